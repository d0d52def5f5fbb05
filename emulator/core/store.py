"""The account's servers, whatever the provider: every one ever created (deleted ones are
kept for the ledger), the live ones by id and by each exact-match filter, and the seeded
generator ids and addresses come from.

Everything lives in memory, indexed, so a lookup never scans the account. What a server
shows (booting, running) is derived from the clock by its face when it is read.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Record", "RecordStore"]


class Record(Protocol):
    id: str
    seq: int  # creation order, strictly increasing
    created_at: datetime
    deleted_at: datetime | None
    filter_values: dict[str, list[str]]  # filter name -> the values it matches exactly


R = TypeVar("R", bound=Record)


class RecordStore(Generic[R]):
    """Servers of one kind `R`, indexed by id and by each of `filters`."""

    def __init__(self, seed: int, filters: tuple[str, ...]) -> None:
        self._seed = seed
        self._filters = filters
        self.reset()

    def reset(self) -> None:
        self.rng = random.Random(f"{self._seed}:instances")
        self._next_seq = 0
        self._all: dict[str, R] = {}
        self._live: dict[str, R] = {}  # insertion order == creation order
        self._index: dict[str, dict[str, dict[str, R]]] = {f: {} for f in self._filters}

    # -- writes -------------------------------------------------------------------------

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def add(self, record: R) -> None:
        self._all[record.id] = record
        if record.deleted_at is not None:
            return  # kept for billing only
        self._live[record.id] = record
        for name, values in record.filter_values.items():
            for value in values:
                self._index[name].setdefault(value, {})[record.id] = record

    def delete(self, record: R, now: datetime) -> None:
        record.deleted_at = now
        del self._live[record.id]
        for name, values in record.filter_values.items():
            for value in values:
                bucket = self._index[name][value]
                del bucket[record.id]
                if not bucket:
                    del self._index[name][value]

    # -- reads --------------------------------------------------------------------------

    def get(self, record_id: str) -> R | None:
        """A live record by id, or None (never existed, or deleted)."""
        return self._live.get(record_id)

    def select(self, filters: dict[str, str]) -> list[R]:
        """Live records matching every filter exactly, oldest first."""
        if not filters:
            return list(self._live.values())
        buckets = [self._index[name].get(value, {}) for name, value in filters.items()]
        smallest = min(buckets, key=len)
        others = [b for b in buckets if b is not smallest]
        chosen = [r for r in smallest.values() if all(r.id in b for b in others)]
        chosen.sort(key=lambda r: r.seq)
        return chosen

    def everything(self) -> Iterator[R]:
        """Every record ever created, deleted ones included, oldest first."""
        return iter(self._all.values())

    def live_count(self) -> int:
        return len(self._live)

    # -- persistence (core/persistence.py writes and reads these) -----------------------

    def snapshot(self) -> tuple[Any, int, list[R]]:
        """What a restarted store needs: the generator's state, the next sequence number
        and every record ever created."""
        return self.rng.getstate(), self._next_seq, list(self._all.values())

    def restore(self, rng_state: Any, next_seq: int, records: list[R]) -> None:
        self.reset()
        self.rng.setstate(rng_state)
        self._next_seq = next_seq
        for record in sorted(records, key=lambda r: r.seq):
            self.add(record)
