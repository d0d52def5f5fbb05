"""In-process Hetzner faces with a clock the test moves, reached through httpx.ASGITransport.
Every response a test gets through `hz.client` is checked against the spec."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulator import HetznerConfig, create_app
from tests.emulator.conftest import FakeClock
from tests.emulator.hetzner.spec import assert_conforms

TOKEN = "in-process-token"
SERVER_BODY = {"name": "web-1", "server_type": "cx22", "image": "ubuntu-24.04", "location": "fsn1"}


class InProcess:
    """One Hetzner face app, its clock, and a client for it."""

    def __init__(self, app: Starlette, clock: FakeClock, client: httpx.AsyncClient) -> None:
        self.app = app
        self.clock = clock
        self.client = client

    async def create(self, **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/v1/servers", json={**SERVER_BODY, **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def server(self, server_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/v1/servers/{server_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["server"]
        return body


async def _check(response: httpx.Response) -> None:
    await response.aread()
    if response.request.url.path.startswith("/v1/"):
        assert_conforms(response)


def client_for(
    app: Starlette, *, token: str | None = TOKEN, ip: str = "203.0.113.10"
) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(
        transport=transport,
        base_url="http://emulator",
        headers=headers,
        event_hooks={"response": [_check]},
    )


MakeHetzner = Callable[..., InProcess]


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
