"""DigitalOcean-face fixtures: in-process emulators whose every answer is checked against
the spec, and one real emulator process for the client tests over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from emulator import create_app
from emulator.digitalocean.config import DigitalOceanConfig
from tests.providers.digitalocean.support import (
    TOKEN,
    DoEmulator,
    FakeClock,
    _conforms,
)
from tests.support.emulator import TEST_API_KEY, RunningEmulator, running_emulator


@pytest.fixture
async def make_do() -> AsyncIterator[Callable[..., DoEmulator]]:
    clients: list[httpx.AsyncClient] = []

    def make(*, token: str | None = TOKEN, **options: Any) -> DoEmulator:
        options = {"seed": 99, "boot_seconds": 10, **options}
        clock = FakeClock()
        app = create_app(DigitalOceanConfig(**options), clock=clock)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 40000)),
            base_url="http://emulator",
            headers={"Authorization": f"Bearer {token}"} if token else {},
            event_hooks={"response": [_conforms]},
        )
        clients.append(client)
        return DoEmulator(clock, client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def do(make_do: Callable[..., DoEmulator]) -> DoEmulator:
    return make_do()


@pytest.fixture(scope="session")
def do_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A DigitalOcean emulator process shared by the session: 1 s boot, only TEST_API_KEY."""
    with running_emulator(
        tmp_path_factory.mktemp("do-emulator-logs"),
        boot_seconds=1,
        rate_limit=10_000,
        seed=11,
        provider="digitalocean",
        extra_args=[
            "--rate-limit-hourly",
            "100000",
            "--api-key",
            TEST_API_KEY,
        ],
    ) as running:
        yield running


@pytest.fixture
def fresh_do(do_emulator: RunningEmulator) -> RunningEmulator:
    do_emulator.reset()
    return do_emulator
