"""The delete plan: spread idle servers' deletes over a provider's rate budget.

A provider account's calls share one rate-limited queue. When more deadlines fall
together than that budget can delete, the late ones cross their billing boundary and pay
another period. Each server instead reserves a slot: time is cut into buckets of
`bucket_seconds` holding at most `per_bucket` deletes, and a server takes the latest
bucket at or before its deadline with room, never one after it (a delete may move
earlier, never later).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["DeleteBudget", "plan_slot", "reservation_id", "slot_time"]


@dataclass(frozen=True)
class DeleteBudget:
    """At most `per_bucket` deletes in each `bucket_seconds` window (epoch-aligned)."""

    per_bucket: int
    bucket_seconds: int

    def __post_init__(self) -> None:
        if self.per_bucket < 1 or self.bucket_seconds < 1:
            raise ValueError(f"a delete budget needs at least 1 a bucket of >= 1 s: {self}")

    @classmethod
    def from_rate(cls, deletes_per_second: float) -> DeleteBudget:
        """Whole deletes a second, or below one a second one delete per ceil(1/rate) s:
        never more than the rate allows."""
        if deletes_per_second <= 0:
            raise ValueError(f"a delete rate must be positive, not {deletes_per_second}")
        if deletes_per_second >= 1:
            return cls(per_bucket=math.floor(deletes_per_second), bucket_seconds=1)
        return cls(per_bucket=1, bucket_seconds=math.ceil(1 / deletes_per_second - 1e-9))

    def bucket(self, epoch_second: int) -> int:
        """The start (epoch second) of the bucket holding `epoch_second`."""
        return epoch_second - epoch_second % self.bucket_seconds


def _epoch(at: datetime) -> int:
    return math.floor(at.timestamp())


def plan_slot(
    deadline: datetime,
    not_before: datetime,
    counts: Mapping[int, int],
    budget: DeleteBudget,
) -> int | None:
    """The bucket (its start, epoch seconds) a delete due by `deadline` takes: the latest
    one overlapping [not_before, deadline] with fewer than `per_bucket` reservations in
    `counts` (bucket start -> reservations). None when all of them are full."""
    last, first = _epoch(deadline), _epoch(not_before)
    bucket = budget.bucket(last)
    while bucket + budget.bucket_seconds - 1 >= first:
        if counts.get(bucket, 0) < budget.per_bucket:
            return bucket
        bucket -= budget.bucket_seconds
    return None


def slot_time(
    bucket: int, deadline: datetime, not_before: datetime, budget: DeleteBudget
) -> datetime:
    """When a delete in `bucket` runs: as late in it as the deadline allows, and not
    before `not_before`; never after the deadline."""
    at = datetime.fromtimestamp(min(_epoch(deadline), bucket + budget.bucket_seconds - 1), UTC)
    return min(max(at, not_before), deadline)


def reservation_id(provider: str, bucket: int, k: int) -> str:
    """One reservation's unique key: the k-th delete of `provider` in `bucket`."""
    return f"{provider}:{bucket}:{k}"
