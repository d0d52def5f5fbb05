"""Helpers for the lease tests: the server's clock and overlap counting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["Hold", "max_concurrent", "overlapping_pairs", "server_now"]


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
