"""Settings every face shares; each face's config adds its own and names its face."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from emulator.core.faults import FaultConfig

if TYPE_CHECKING:
    from emulator.core.face import Face

__all__ = ["CoreConfig"]


class CoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    state_file: Path | None = None  # keep the account here across restarts (persistence.py)
    billing_period_seconds: float = Field(default=3600.0, gt=0)
    seed: int = Field(default_factory=lambda: secrets.randbits(32))
    api_key: SecretStr | None = None
    faults: FaultConfig = Field(default_factory=FaultConfig)

    def face(self) -> Face:
        raise NotImplementedError

    def public_view(self) -> dict[str, Any]:
        """What GET /admin/config shows; never the API key itself."""
        raise NotImplementedError

    def summary(self) -> str:
        """The settings in one line, for the startup banner."""
        raise NotImplementedError
