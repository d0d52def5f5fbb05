"""Heartbeats while an activity waits on its provider, so that an attempt lost with a
killed worker fails over when its heartbeat timeout passes (seconds) instead of when
its start-to-close timeout does."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from temporalio import activity

__all__ = ["HEARTBEAT_EVERY_SECONDS", "heartbeating"]

# Well inside the workflows' heartbeat timeout (PROVIDER_HEARTBEAT_TIMEOUT); the SDK
# throttles what actually reaches the server to a fraction of that timeout.
HEARTBEAT_EVERY_SECONDS = 1.0

P = ParamSpec("P")
R = TypeVar("R")


async def _beat(every: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every)


def heartbeating(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Run the activity body with a heartbeat every HEARTBEAT_EVERY_SECONDS beside it.

    The body stays in the activity's own task, so a cancellation reaches its HTTP call
    as before; the beating task shares the activity's context and stops with it."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        beats = asyncio.create_task(_beat(HEARTBEAT_EVERY_SECONDS))
        try:
            return await fn(*args, **kwargs)
        finally:
            beats.cancel()

    return run
