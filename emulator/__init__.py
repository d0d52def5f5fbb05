"""A stand-in for the Vultr API v2, run as its own program (`python -m emulator`)."""

from emulator.app import create_app
from emulator.config import EmulatorConfig
from emulator.faults import FaultConfig, FaultRule, Trigger
from emulator.gate import ResponseDropped

__all__ = ["EmulatorConfig", "FaultConfig", "FaultRule", "ResponseDropped", "Trigger", "create_app"]
