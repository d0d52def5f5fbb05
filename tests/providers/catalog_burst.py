"""A check every face's provider must pass: quotes sent at once, on a fresh process and
face, fetch the catalog once between them (one request per listing)."""

from __future__ import annotations

import asyncio

from core.models import ServerSpec
from providers.base import Provider
from tests.support.emulator import RunningEmulator


async def assert_concurrent_quotes_fetch_the_catalog_once(
    provider: Provider, spec: ServerSpec, face: RunningEmulator, quotes: int = 20
) -> None:
    answered = await asyncio.gather(*(provider.quote(spec) for _ in range(quotes)))
    assert {quote.plan for quote in answered} == {spec.plan}
    routes = [entry["route"] for entry in face.admin("GET", "/requests").json()["requests"]]
    assert len(routes) >= 3 and len(routes) == len(set(routes)), routes
