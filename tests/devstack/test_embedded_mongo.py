"""The embedded MongoDB runs with its retryable-write records pruned oldest-first and
its writes by `_id` looked up by it (devstack/secantusd.py); a driver's retry is still
answered, not re-applied, and a lookup by `_id` finds what MongoDB's equality finds."""

from __future__ import annotations

from pathlib import Path

import pytest
from bson import Int64
from pymongo import AsyncMongoClient
from secantus import storage, transactions

from devstack import secantusd
from tests.support.mongo import start_embedded_mongo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _registry(
    monkeypatch: pytest.MonkeyPatch, cap: int
) -> tuple[Clock, transactions.TransactionRegistry]:
    monkeypatch.setattr(
        transactions.TransactionRegistry,
        "_prune_retryable_locked",
        secantusd._prune_retryable_locked,
    )
    monkeypatch.setattr(transactions, "_RETRYABLE_RECORD_MAX", cap)
    clock = Clock()
    return clock, transactions.TransactionRegistry(time_func=clock)


def _record(registry: transactions.TransactionRegistry, clock: Clock, number: int) -> None:
    registry.record_retryable(b"s" * 16, number, b"id", {"ok": 1.0, "n": number})


def _replays(registry: transactions.TransactionRegistry, number: int) -> bool:
    return registry.retryable_reply(b"s" * 16, number, b"id") is not None


def test_records_over_the_cap_are_dropped_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, registry = _registry(monkeypatch, cap=5)
    for number in range(1, 9):
        _record(registry, clock, number)
        clock.now += 1
    assert [n for n in range(1, 9) if _replays(registry, n)] == [4, 5, 6, 7, 8]


def test_records_past_their_lifetime_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, registry = _registry(monkeypatch, cap=100)
    for number in range(1, 4):  # made at 0, 1 and 2 s
        _record(registry, clock, number)
        clock.now += 1
    clock.now += transactions._RETRYABLE_RECORD_LIFETIME_SECONDS - 1.5  # 1 and 2 expire
    _record(registry, clock, 4)
    assert [n for n in range(1, 5) if _replays(registry, n)] == [3, 4]


async def test_embedded_server_runs_the_repair_and_still_replays_a_retry(tmp_path: Path) -> None:
    proc, uri = start_embedded_mongo(":memory:", tmp_path, test_commands=False)
    try:
        client: AsyncMongoClient = AsyncMongoClient(uri)
        try:
            coll = client.retry_check.counters
            await coll.insert_one({"_id": 1, "n": 0})
            write = {"update": "counters", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"n": 1}}}]}
            async with client.start_session() as session:
                # The same (lsid, txnNumber) twice is what a driver's retry sends.
                for _ in range(2):
                    reply = await client.retry_check.command(
                        {**write, "txnNumber": Int64(1)}, session=session
                    )
                    assert reply["n"] == 1
            counter = await coll.find_one({"_id": 1})
            assert counter is not None and counter["n"] == 1  # applied once
        finally:
            await client.close()
        assert secantusd.STARTED_LINE in proc.log_path.read_text()
    finally:
        proc.stop()


def _slots(monkeypatch: pytest.MonkeyPatch, repaired: bool) -> storage.Storage:
    if repaired:
        monkeypatch.setattr(storage.Storage, "_try_index_id_keys", secantusd._try_index_id_keys)
    db = storage.Storage(":memory:")
    db.insert("db", "slots", [{"_id": {"res": "q", "i": i}, "owner": f"o{i}"} for i in range(50)])
    return db


@pytest.mark.parametrize("repaired", [False, True])
def test_a_find_and_modify_write_reads_only_the_document_it_names(
    monkeypatch: pytest.MonkeyPatch, repaired: bool
) -> None:
    db = _slots(monkeypatch, repaired)
    # The filter findAndModify writes the document it found with.
    write = {"_id": {"res": "q", "i": 7}, "$and": [{"owner": "o7"}]}
    read = len(db._candidates_iter("db", "slots", write))
    assert read == (1 if repaired else 50)  # stock SecantusDB scans the collection
    assert db.find_matching("db", "slots", write) == [{"_id": {"res": "q", "i": 7}, "owner": "o7"}]


def test_document_ids_match_as_mongodb_compares_them(monkeypatch: pytest.MonkeyPatch) -> None:
    db = _slots(monkeypatch, repaired=True)
    found = db.find_matching("db", "slots", {"_id": {"res": "q", "i": 7.0}})
    assert [doc["owner"] for doc in found] == ["o7"]  # equal across number types
    assert db.find_matching("db", "slots", {"_id": {"i": 7, "res": "q"}}) == []  # field order
    assert db.find_matching("db", "slots", {"_id": {"res": "q", "i": 99}}) == []
    scalar = {"_id": 5, "$and": [{"n": 1}]}
    db.insert("db", "plain", [{"_id": 5, "n": 1}, {"_id": 6, "n": 1}])
    assert db.find_matching("db", "plain", scalar) == [{"_id": 5, "n": 1}]


@pytest.mark.parametrize("repaired", [False, True])
def test_a_filter_with_expr_reads_only_what_its_indexed_fields_match(
    monkeypatch: pytest.MonkeyPatch, repaired: bool
) -> None:
    if repaired:
        monkeypatch.setattr(storage.Storage, "_try_index_id_keys", secantusd._try_index_id_keys)
    db = storage.Storage(":memory:")
    db.create_index("db", "slots", "owner", {"owner": 1}, {"sparse": True})
    db.insert("db", "slots", [{"_id": i, "owner": f"o{i % 25}", "live": i < 25} for i in range(50)])
    # A lease release: the owner's slots that are still live.
    release = {"owner": "o7", "$expr": {"$eq": ["$live", True]}}
    read = len(db._candidates_iter("db", "slots", release))
    assert read == (2 if repaired else 50)  # stock SecantusDB scans the collection
    assert db.find_matching("db", "slots", release) == [{"_id": 7, "owner": "o7", "live": True}]
    both = {"owner": "o7", "$and": [{"live": False}]}
    assert db.find_matching("db", "slots", both) == [{"_id": 32, "owner": "o7", "live": False}]
    # Nothing plain beside the operator: the whole filter decides, as before.
    alone = {"$expr": {"$eq": ["$_id", 3]}}
    assert [doc["_id"] for doc in db.find_matching("db", "slots", alone)] == [3]
