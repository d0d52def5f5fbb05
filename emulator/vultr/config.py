"""The Vultr face's settings: command-line flags, or arguments to `create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from emulator.core.config import CoreConfig

if TYPE_CHECKING:
    from emulator.core.face import Face

__all__ = ["EmulatorConfig"]


class EmulatorConfig(CoreConfig):
    boot_seconds: float = Field(default=58.0, ge=0)
    rate_limit: int = Field(default=30, ge=0, description="requests/s per client IP; 0 disables")
    get_404_seconds: float = Field(default=0.0, ge=0)

    def face(self) -> Face:
        from emulator.vultr.face import VultrFace  # the face needs this config: import late

        return VultrFace(self)

    def public_view(self) -> dict[str, Any]:
        return {
            "billing_period_seconds": self.billing_period_seconds,
            "boot_seconds": self.boot_seconds,
            "rate_limit": self.rate_limit,
            "seed": self.seed,
            "get_404_seconds": self.get_404_seconds,
            "api_key_required": self.api_key is not None,
        }

    def summary(self) -> str:
        return (
            f"Vultr emulator  http://{self.host}:{self.port}/v2  "
            f"(billing period {self.billing_period_seconds:g}s, boot {self.boot_seconds:g}s, "
            f"rate limit {self.rate_limit}/s, seed {self.seed}"
            + (f", state in {self.state_file}" if self.state_file else "")
            + ")"
        )
