"""A stand-in for cloud provider APIs (Vultr v2 by default), run as its own program
(`python -m emulator`). The provider-neutral parts live in `core/`, each API in its face."""

from __future__ import annotations

from starlette.applications import Starlette

from emulator.core import app as _app
from emulator.core.clock import Clock
from emulator.core.config import CoreConfig
from emulator.core.faults import FaultConfig, FaultRule, Trigger
from emulator.core.gate import ResponseDropped
from emulator.hetzner.config import HetznerConfig
from emulator.vultr.config import EmulatorConfig

__all__ = [
    "EmulatorConfig",
    "FaultConfig",
    "FaultRule",
    "HetznerConfig",
    "ResponseDropped",
    "Trigger",
    "create_app",
]


def create_app(config: CoreConfig | None = None, clock: Clock | None = None) -> Starlette:
    """A fresh emulator serving `config`'s face (the Vultr face by default)."""
    return _app.create_app(config or EmulatorConfig(), clock)
