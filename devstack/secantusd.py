"""The embedded MongoDB's entry point: SecantusDB's own `secantusd-py`, with one repair.

SecantusDB 0.7.0b3 keeps each retryable write's reply (30 minutes, at most 10,000) so
that a driver's retry is answered instead of applied twice, and prunes them on every
write by scanning them all and, once there are more than 10,000, sorting them all, so
writes slow several-fold (bench/embedded_writes.py); no flag or server parameter sets
either bound, and ending a session does not drop its records. Records are stored in the
order they are made, so the oldest are at the front; pruning from the front drops the
same records (past the lifetime, then over the cap) in time proportional to what it
drops. Nothing is patched but that method; the server is otherwise SecantusDB's.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

from secantus import cli, transactions


def _prune_retryable_locked(self: transactions.TransactionRegistry) -> None:
    """`TransactionRegistry._prune_retryable_locked` without the scan and the sort."""
    records = self._retryable
    if not isinstance(records, OrderedDict):
        # Its first item is found and dropped in O(1); a dict's first live entry
        # sits behind the holes its earlier deletions left.
        records = self._retryable = OrderedDict(records)  # type: ignore[assignment]
    cutoff = self._time() - transactions._RETRYABLE_RECORD_LIFETIME_SECONDS
    while records:
        _reply, stored_at, _identity = next(iter(records.values()))
        if stored_at >= cutoff and len(records) <= transactions._RETRYABLE_RECORD_MAX:
            return
        records.popitem(last=False)


def install() -> bool:
    """Put the repair in place; False (nothing patched) on a SecantusDB whose layout
    differs from 0.7.0b3's, which then runs as it is."""
    expected = ("_RETRYABLE_RECORD_LIFETIME_SECONDS", "_RETRYABLE_RECORD_MAX")
    if not all(hasattr(transactions, name) for name in expected) or not hasattr(
        transactions.TransactionRegistry, "_prune_retryable_locked"
    ):
        return False
    transactions.TransactionRegistry._prune_retryable_locked = _prune_retryable_locked  # type: ignore[method-assign]
    return True


# Written to the server's log at start, so that a log (or a test) shows which ran.
STARTED_LINE = "retryable-write records pruned oldest-first (devstack/secantusd.py)"

if __name__ == "__main__":
    if install():
        print(STARTED_LINE, file=sys.stderr, flush=True)
    else:
        print(
            "this SecantusDB differs from 0.7.0b3: running it unrepaired (writes slow down "
            "after about 10,000 of them)",
            file=sys.stderr,
            flush=True,
        )
    sys.exit(cli.main())
