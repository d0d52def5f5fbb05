"""Fault scenarios run against real components: the Temporal dev server, an embedded
MongoDB (SecantusDB) and the Vultr emulator over HTTP. The integration fixtures
(`fast_emulator`, `fleet_factory`) are shared from tests/integration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import (  # noqa: F401 - fixtures for the fault tests
    fast_emulator,
    fleet,
    fleet_factory,
)
from tests.support.emulator import RunningEmulator, running_emulator


@pytest.fixture(scope="module")
def module_emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEmulator]:
    """A Vultr face for one test module, billing the module's PERIOD and booting in its
    BOOT seconds (default 2), seeded with its EMULATOR_SEED (default 1)."""
    module = request.module
    with running_emulator(
        tmp_path_factory.mktemp(f"{module.__name__.rsplit('.', 1)[-1]}-emulator"),
        billing_period_seconds=module.PERIOD,
        boot_seconds=getattr(module, "BOOT", 2),
        rate_limit=1000,
        seed=getattr(module, "EMULATOR_SEED", 1),
    ) as running:
        yield running
