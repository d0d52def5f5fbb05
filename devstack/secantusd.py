"""The embedded MongoDB's entry point: SecantusDB's own `secantusd-py`, with three repairs.

Retryable-write records. SecantusDB 0.7.0b3 keeps each retryable write's reply (30
minutes, at most 10,000) so that a driver's retry is answered instead of applied twice,
and prunes them on every write by scanning them all and, once there are more than
10,000, sorting them all, so writes slow several-fold (bench/embedded_writes.py); no
flag or server parameter sets either bound, and ending a session does not drop its
records. Records are stored in the order they are made, so the oldest are at the front;
pruning from the front drops the same records (past the lifetime, then over the cap)
in time proportional to what it drops.

Writes by `_id`. A findAndModify writes the document it found with the filter
`{_id: <found>, $and: [<query>]}`, and SecantusDB routes a filter with any top-level
`$` key, and any `_id` that is a document, to a scan of the whole collection, so every
findAndModify (each lease acquire, renew and release) cost a collection scan
(bench/embedded_writes.py --find-and-modify). Both forms name one `_id`, so they are
answered by a point lookup like the one `{_id: <scalar>}` already gets; the `$and` is
still applied to the document found, as before.

Other filters with `$expr` or `$and`. The same routing sends every filter with one to
a scan, so a lease release (`{owner, $expr: live}`) read every slot: 68 ms at 4,096
slots against 2 ms by the `owner` index. Top-level keys are a conjunction and the
caller applies the whole filter to the candidates, so the plain fields beside such a
key pick the candidates, by index where one covers them.

Nothing is patched but those methods; the server is otherwise SecantusDB's.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from secantus import cli, storage, transactions


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


_stock_point_lookup_keys = getattr(storage, "_id_point_lookup_keys", None)
_stock_index_id_keys = getattr(storage.Storage, "_try_index_id_keys", None)


def _literal_document(spec: Any) -> bool:
    return (
        isinstance(spec, Mapping) and bool(spec) and not any(str(k).startswith("$") for k in spec)
    )


# Top-level operators that only narrow what the other top-level fields match.
_CONJUNCTS = ("$expr", "$and")


def _try_index_id_keys(
    self: storage.Storage, db: str, coll: str, filter: dict[str, Any], *, collation: Any = None
) -> list[bytes] | None:
    """`Storage._try_index_id_keys`, answering `{_id}` and `{_id, $and}` by the `_id`.

    A scalar `_id` gets SecantusDB's own point lookup, exact as for `{_id: <scalar>}`.
    A document `_id` is looked up by `_id_key` of it, the key its stored document has
    when the two are written alike (same field order and number types, as a document
    read back from the server is); on a miss the stock routing decides, so a document
    equal only across number types is still found. The caller applies the whole
    filter to what comes back."""
    if (
        collation is None
        and set(filter) in ({"_id"}, {"_id", "$and"})
        and not self._is_timeseries(db, coll)
    ):
        doc_id = filter["_id"]
        literal = _literal_document(doc_id)
        keys = [storage._id_key(doc_id)] if literal else _stock_point_lookup_keys(doc_id)  # type: ignore[misc]
        if keys is not None:
            rids = [
                rid for rid in (self._doc_recordid(db, coll, k) for k in keys) if rid is not None
            ]
            if rids or not literal:
                return rids
    plain = {k: v for k, v in filter.items() if k not in _CONJUNCTS}
    if plain and len(plain) < len(filter) and not any(str(k).startswith("$") for k in plain):
        # The filter's plain fields pick the candidates by index; the `$expr` or
        # `$and` beside them is applied to those, as the caller applies the whole filter.
        filter = plain
    return _stock_index_id_keys(self, db, coll, filter, collation=collation)  # type: ignore[misc]


def install() -> bool:
    """Put the repairs in place; False (nothing patched) on a SecantusDB whose layout
    differs from 0.7.0b3's, which then runs as it is."""
    expected = ("_RETRYABLE_RECORD_LIFETIME_SECONDS", "_RETRYABLE_RECORD_MAX")
    if (
        not all(hasattr(transactions, name) for name in expected)
        or not hasattr(transactions.TransactionRegistry, "_prune_retryable_locked")
        or _stock_point_lookup_keys is None
        or _stock_index_id_keys is None
        or not all(hasattr(storage.Storage, name) for name in ("_doc_recordid", "_is_timeseries"))
        or not hasattr(storage, "_id_key")
    ):
        return False
    transactions.TransactionRegistry._prune_retryable_locked = _prune_retryable_locked  # type: ignore[method-assign]
    storage.Storage._try_index_id_keys = _try_index_id_keys  # type: ignore[method-assign]
    return True


# Written to the server's log at start, so that a log (or a test) shows which ran.
STARTED_LINE = (
    "retryable-write records pruned oldest-first, writes by _id looked up by it, "
    "filters with $expr or $and narrowed by their other fields (devstack/secantusd.py)"
)

if __name__ == "__main__":
    if install():
        print(STARTED_LINE, file=sys.stderr, flush=True)
    else:
        print(
            "this SecantusDB differs from 0.7.0b3: running it unrepaired (writes slow down "
            "after about 10,000 of them, and each findAndModify scans its collection)",
            file=sys.stderr,
            flush=True,
        )
    sys.exit(cli.main())
