"""The DigitalOcean face's settings: command-line flags, or arguments to `create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from emulator.core.config import CoreConfig

if TYPE_CHECKING:
    from emulator.core.face import Face

__all__ = ["DigitalOceanConfig"]


class DigitalOceanConfig(CoreConfig):
    boot_seconds: float = Field(default=30.0, ge=0)
    rate_limit: int = Field(default=250, ge=0, description="requests/min per token; 0 disables")
    rate_limit_hourly: int = Field(default=5000, ge=0, description="requests/h per token")

    def face(self) -> Face:
        from emulator.digitalocean.face import DigitalOceanFace  # needs this config: import late

        return DigitalOceanFace(self)

    def public_view(self) -> dict[str, Any]:
        return {
            "provider": "digitalocean",
            "billing_period_seconds": self.billing_period_seconds,
            "boot_seconds": self.boot_seconds,
            "rate_limit": self.rate_limit,
            "rate_limit_hourly": self.rate_limit_hourly,
            "seed": self.seed,
            "api_key_required": self.api_key is not None,
        }

    def summary(self) -> str:
        return (
            f"DigitalOcean emulator  http://{self.host}:{self.port}/v2  "
            f"(billing period {self.billing_period_seconds:g}s, boot {self.boot_seconds:g}s, "
            f"rate limit {self.rate_limit}/min {self.rate_limit_hourly}/h, seed {self.seed}"
            + (f", state in {self.state_file}" if self.state_file else "")
            + ")"
        )
