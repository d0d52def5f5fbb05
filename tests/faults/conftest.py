"""Fault scenarios run against real components: the Temporal dev server, an embedded
MongoDB (SecantusDB) and the Vultr emulator over HTTP. The integration fixtures
(`fast_emulator`, `fleet_factory`) are shared from tests/integration."""

from __future__ import annotations

from tests.integration.conftest import (  # noqa: F401 - fixtures for the fault tests
    fast_emulator,
    fleet,
    fleet_factory,
)
