"""Helpers for the Vultr client tests: a client over a scripted in-memory transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from providers.vultr import VultrClient

SECRET_KEY = "sk-live-0123456789abcdef-DO-NOT-LEAK"
BASE_URL = "https://api.example.test/v2"

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Scripted:
    """Answers requests with `handler` and remembers every request it saw."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


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
