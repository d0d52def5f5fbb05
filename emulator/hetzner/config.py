"""The Hetzner face's settings: command-line flags, or arguments to `create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from emulator.core.config import CoreConfig

if TYPE_CHECKING:
    from emulator.core.face import Face

__all__ = ["HetznerConfig"]


class HetznerConfig(CoreConfig):
    boot_seconds: float = Field(default=15.0, ge=0)
    delete_seconds: float = Field(default=5.0, ge=0)
    rate_limit: int = Field(default=3600, ge=0, description="requests per project; 0 disables")
    rate_limit_refill_per_second: float = Field(default=1.0, gt=0)
    server_limit: int = Field(default=0, ge=0, description="live servers per project; 0: none")

    def face(self) -> Face:
        from emulator.hetzner.face import HetznerFace  # the face needs this config: import late

        return HetznerFace(self)

    def public_view(self) -> dict[str, Any]:
        return {
            "provider": "hetzner",
            "billing_period_seconds": self.billing_period_seconds,
            "boot_seconds": self.boot_seconds,
            "delete_seconds": self.delete_seconds,
            "rate_limit": self.rate_limit,
            "rate_limit_refill_per_second": self.rate_limit_refill_per_second,
            "server_limit": self.server_limit,
            "seed": self.seed,
            "api_key_required": self.api_key is not None,
        }

    def summary(self) -> str:
        return (
            f"Hetzner Cloud emulator  http://{self.host}:{self.port}/v1  "
            f"(billing period {self.billing_period_seconds:g}s, boot {self.boot_seconds:g}s, "
            f"delete {self.delete_seconds:g}s, rate limit {self.rate_limit} refilled "
            f"{self.rate_limit_refill_per_second:g}/s, seed {self.seed}"
            + (f", state in {self.state_file}" if self.state_file else "")
            + ")"
        )
