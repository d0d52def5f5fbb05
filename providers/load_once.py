"""A value loaded once per process and shared by every caller, also by callers that
arrive while the first load is still running, so a burst of activities makes one set
of catalog requests instead of one per activity."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["LoadOnce"]

T = TypeVar("T")


class LoadOnce(Generic[T]):
    """`get()` returns the loaded value, starting the load if none is running. A failed
    load is handed to every caller that waited for it and started again by the next."""

    def __init__(self, load: Callable[[], Awaitable[T]]) -> None:
        self._load = load
        self._value: T | None = None
        self._running: asyncio.Task[T] | None = None

    async def get(self) -> T:
        if self._value is not None:
            return self._value
        if self._running is None:
            self._running = asyncio.ensure_future(self._load_and_keep())
        # Shielded: one caller cancelled (its activity timed out) does not cancel the
        # load the others wait for.
        return await asyncio.shield(self._running)

    async def _load_and_keep(self) -> T:
        try:
            self._value = await self._load()
            return self._value
        finally:
            self._running = None
