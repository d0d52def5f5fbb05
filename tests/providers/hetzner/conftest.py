"""Hetzner clients: against the session Hetzner face over HTTP, or over a scripted
in-memory transport for answers the emulator does not give."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from providers.hetzner import HetznerClient
from tests.providers.hetzner.support import BASE_URL, SECRET_TOKEN, Handler
from tests.support.emulator import TEST_API_KEY, RunningEmulator


@pytest.fixture
async def client(fresh_hetzner: RunningEmulator) -> AsyncIterator[HetznerClient]:
    async with HetznerClient(TEST_API_KEY, fresh_hetzner.api_url, timeout=10) as made:
        yield made


@pytest.fixture
async def mock_client() -> AsyncIterator[Callable[..., HetznerClient]]:
    """Build clients over a scripted transport; all are closed after the test."""
    made: list[HetznerClient] = []

    def make(handler: Handler, **options: Any) -> HetznerClient:
        built = HetznerClient(
            SECRET_TOKEN, BASE_URL, transport=httpx.MockTransport(handler), **options
        )
        made.append(built)
        return built

    yield make
    for built in made:
        await built.aclose()
