"""The in-process Hetzner face with a clock the test moves; every response checked
against the spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.emulator.hetzner.spec import assert_conforms
from tests.emulator.support import FakeClock

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
