"""Helpers for the Vultr client tests: a client over a scripted in-memory transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from providers.vultr import VultrClient
from tests.providers.vultr.support import BASE_URL, SECRET_KEY, Handler, Scripted


@pytest.fixture
def scripted() -> Callable[[Handler], Scripted]:
    return Scripted


@pytest.fixture
async def mock_client() -> AsyncIterator[Callable[..., VultrClient]]:
    """Build clients over a scripted transport; all are closed after the test."""
    made: list[VultrClient] = []

    def make(handler: Handler, **options: Any) -> VultrClient:
        client = VultrClient(
            SECRET_KEY, BASE_URL, transport=httpx.MockTransport(handler), **options
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
