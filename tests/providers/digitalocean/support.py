"""What the DigitalOcean tests share: an in-process face with a clock the test moves,
and a Droplet body."""

from __future__ import annotations

from typing import Any

import httpx

from tests.emulator.support import FakeClock
from tests.providers.digitalocean.spec import assert_conforms

TOKEN = "in-process-token"
DROPLET = {"name": "web-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64"}


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
