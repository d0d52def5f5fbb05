"""In-process emulators with a clock the test moves, reached through httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from emulator import EmulatorConfig, create_app
from tests.emulator.support import (
    FakeClock,
    InProcess,
    MakeEmulator,
    client_for,
)


@pytest.fixture
async def make_emulator() -> AsyncIterator[MakeEmulator]:
    """Build in-process emulators: `make_emulator(boot_seconds=10, ...)` (EmulatorConfig fields)."""
    clients: list[httpx.AsyncClient] = []

    def make(clock: FakeClock | None = None, **options: Any) -> InProcess:
        options = {"seed": 1234, "rate_limit": 0, "boot_seconds": 0, **options}
        clock = clock or FakeClock()
        app = create_app(EmulatorConfig(**options), clock=clock)
        client = client_for(app)
        clients.append(client)
        return InProcess(app, clock, client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def emu(make_emulator: MakeEmulator) -> InProcess:
    """An in-process emulator that boots servers in 10 s, bills hourly, no rate limit."""
    return make_emulator(boot_seconds=10)
