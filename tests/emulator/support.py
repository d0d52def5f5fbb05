"""The in-process Vultr face with a clock the test moves, and a client for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette

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
