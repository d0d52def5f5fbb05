"""One call in flight at a time, shared by every caller that arrives while it runs, so a
burst of activities that each need the catalog makes one set of requests, not one each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """`run()` joins the call in flight or starts one. Its outcome, value or error, reaches
    every caller that joined it; the next `run()` after it ends starts a new call."""

    def __init__(self, call: Callable[[], Awaitable[T]]) -> None:
        self._call = call
        self._running: asyncio.Future[T] | None = None

    async def run(self) -> T:
        if self._running is None:
            self._running = asyncio.ensure_future(self._call_once())
        # Shielded: one caller cancelled (its activity timed out) does not cancel the
        # call the others wait for.
        return await asyncio.shield(self._running)

    async def _call_once(self) -> T:
        try:
            return await self._call()
        finally:
            self._running = None
