"""The emulator's settings: command-line flags, or arguments to `create_app`."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from emulator.faults import FaultConfig

__all__ = ["EmulatorConfig"]


class EmulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    state_file: Path | None = None  # keep the account here across restarts (persistence.py)
    billing_period_seconds: float = Field(default=3600.0, gt=0)
    boot_seconds: float = Field(default=58.0, ge=0)
    rate_limit: int = Field(default=30, ge=0, description="requests/s per client IP; 0 disables")
    seed: int = Field(default_factory=lambda: secrets.randbits(32))
    api_key: SecretStr | None = None
    get_404_seconds: float = Field(default=0.0, ge=0)
    faults: FaultConfig = Field(default_factory=FaultConfig)

    def public_view(self) -> dict[str, Any]:
        """What GET /admin/config shows; never the API key itself."""
        return {
            "billing_period_seconds": self.billing_period_seconds,
            "boot_seconds": self.boot_seconds,
            "rate_limit": self.rate_limit,
            "seed": self.seed,
            "get_404_seconds": self.get_404_seconds,
            "api_key_required": self.api_key is not None,
        }
