"""In-process emulators with a clock the test moves, reached through httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulator import EmulatorConfig, create_app

START = datetime(2024, 1, 10, 12, 0, 0, tzinfo=UTC)
TOKEN = "in-process-token"
SERVER_BODY = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284}


class FakeClock:
    """The emulator's clock; tests move it forward instead of sleeping."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class InProcess:
    """One emulator app, its clock, and a client for it."""

    def __init__(self, app: Starlette, clock: FakeClock, client: httpx.AsyncClient) -> None:
        self.app = app
        self.clock = clock
        self.client = client

    async def create(self, **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/v2/instances", json={**SERVER_BODY, **fields})
        assert response.status_code == 202, response.text
        instance: dict[str, Any] = response.json()["instance"]
        return instance

    async def instance(self, instance_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v2/instances/{instance_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["instance"]
        return body


def client_for(
    app: Starlette, *, token: str | None = TOKEN, ip: str = "203.0.113.10"
) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://emulator", headers=headers)


MakeEmulator = Callable[..., InProcess]


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
