"""Waiting in tests: poll until a condition holds, with a bound and a message that says
what was waited for and what was last seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def _timed_out(what: str, within: float, value: object) -> AssertionError:
    return AssertionError(f"{what} did not hold within {within:g} s; last: {value!r}")


async def wait_until(
    probe: Callable[[], Awaitable[T]],
    *,
    within: float,
    interval: float = 0.2,
    what: str = "the condition",
) -> T:
    """Await `probe()` every `interval` seconds until it returns something truthy, and
    return that; AssertionError naming `what` and the last value after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, within, value)
        await asyncio.sleep(interval)


def poll_until(
    probe: Callable[[], T],
    *,
    within: float,
    interval: float = 0.1,
    what: str = "the condition",
) -> T:
    """`wait_until` for synchronous tests: call `probe()` until it returns something
    truthy; AssertionError naming `what` and the last value after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, within, value)
        time.sleep(interval)
