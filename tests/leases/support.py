"""Helpers for the lease tests: the server's clock, overlap counting, and waiting for a
lease (the product never waits in-process: a workflow retries `acquire` as an activity)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from leases.models import Lease
from leases.store import LeaseStore

__all__ = ["Hold", "acquire_within", "max_concurrent", "overlapping_pairs", "server_now"]


async def server_now(db: Any) -> datetime:
    """The MongoDB server's wall clock (its `hello` reply), as aware UTC."""
    reply = await db.client.admin.command("hello")
    local: datetime = reply["localTime"]
    return local if local.tzinfo else local.replace(tzinfo=UTC)


def ms(value: datetime) -> int:
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Hold:
    """A span of server time inside which a holder believed it held the lease: read
    from the server's clock after acquire returned and before release was sent, so it
    lies inside the real holding."""

    owner: str
    token: int
    start_ms: int
    end_ms: int


def overlapping_pairs(holds: list[Hold]) -> list[tuple[Hold, Hold]]:
    ordered = sorted(holds, key=lambda h: h.start_ms)
    pairs = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start_ms >= a.end_ms:
                break
            pairs.append((a, b))
    return pairs


def max_concurrent(holds: list[Hold]) -> int:
    """Most holds open at one instant; half-open spans, so end == start is no overlap."""
    events = [(h.start_ms, 1) for h in holds] + [(h.end_ms, -1) for h in holds]
    events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same ms
    open_now = peak = 0
    for _, delta in events:
        open_now += delta
        peak = max(peak, open_now)
    return peak


async def acquire_within(
    store: LeaseStore,
    resource: str,
    owner: str,
    ttl: timedelta,
    *,
    within: timedelta,
    poll: timedelta = timedelta(milliseconds=50),
) -> Lease | None:
    """`store.acquire` asked every `poll` until it grants the lease or `within` passes
    (then None). Each attempt runs to its end, so no slot is taken unseen."""
    give_up = time.monotonic() + within.total_seconds()
    while True:
        lease = await store.acquire(resource, owner, ttl)
        if lease is not None:
            return lease
        remaining = give_up - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(remaining, poll.total_seconds()))
