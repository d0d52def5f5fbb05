"""In-process Hetzner faces with a clock the test moves, reached through httpx.ASGITransport.
Every response a test gets through `hz.client` is checked against the spec."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from emulator import HetznerConfig, create_app
from tests.emulator.hetzner.support import (
    InProcess,
    MakeHetzner,
    client_for,
)
from tests.emulator.support import FakeClock


@pytest.fixture
async def make_hetzner() -> AsyncIterator[MakeHetzner]:
    """Build in-process Hetzner faces: `make_hetzner(boot_seconds=10, ...)` (HetznerConfig)."""
    clients: list[httpx.AsyncClient] = []

    def make(clock: FakeClock | None = None, **options: Any) -> InProcess:
        options = {"seed": 1234, "rate_limit": 0, "boot_seconds": 0, "delete_seconds": 0, **options}
        clock = clock or FakeClock()
        app = create_app(HetznerConfig(**options), clock=clock)
        client = client_for(app)
        clients.append(client)
        return InProcess(app, clock, client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def hz(make_hetzner: MakeHetzner) -> InProcess:
    """A face that boots servers in 10 s, shows deletes for 4 s, bills hourly, no rate limit."""
    return make_hetzner(boot_seconds=10, delete_seconds=4)
