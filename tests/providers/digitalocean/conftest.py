"""DigitalOcean-face fixtures: in-process emulators whose every answer is checked against
the spec, and one real emulator process for the client tests over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from emulator import create_app
from emulator.digitalocean.config import DigitalOceanConfig
from tests.providers.digitalocean.spec import assert_conforms
from tests.support.emulator import TEST_API_KEY, RunningEmulator, running_emulator

START = datetime(2024, 1, 10, 12, 0, 0, tzinfo=UTC)
TOKEN = "in-process-token"
DROPLET = {"name": "web-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64"}


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class DoEmulator:
    """An in-process DigitalOcean face, its clock, and a client whose every /v2 answer is
    validated against the spec."""

    def __init__(self, clock: FakeClock, client: httpx.AsyncClient) -> None:
        self.clock = clock
        self.client = client

    async def create(self, **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/v2/droplets", json={**DROPLET, **fields})
        assert response.status_code == 202, response.text
        droplet: dict[str, Any] = response.json()["droplet"]
        return droplet


async def _conforms(response: httpx.Response) -> None:
    if response.request.url.path.startswith("/v2/"):
        await response.aread()
        assert_conforms(response)


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
