"""The slot-per-document semaphore: one slot per owner under overlapping attempts, a
stored limit that disagreeing callers cannot exceed, and the move from the former
one-document form."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from bson import Int64
from pymongo import AsyncMongoClient, monitoring

from leases import Lease, LeaseStore
from tests.leases.support import ms, server_now

SHORT = timedelta(milliseconds=300)
LONG = timedelta(seconds=30)


@pytest.fixture
async def stores(mongo_uri: str, mongo_db: Any) -> AsyncIterator[list[LeaseStore]]:
    """Four stores, each on its own client (its own connections and slot cache)."""
    clients: list[AsyncMongoClient[Any]] = [
        AsyncMongoClient(mongo_uri, tz_aware=True) for _ in range(4)
    ]
    try:
        yield [LeaseStore(c[mongo_db.name]) for c in clients]
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_overlapping_acquires_by_one_owner_get_one_slot(
    stores: list[LeaseStore],
) -> None:
    # A fresh resource: every attempt also races to create the slots.
    fresh = await asyncio.gather(
        *(stores[i % 4].acquire("fresh", "wf-a", LONG, 5) for i in range(12))
    )
    # Expired slots of others beside the owner's live one: an attempt that picks one of
    # them must still end on the owner's own slot.
    for owner in ("wf-b", "wf-c"):
        assert await stores[0].acquire("busy", owner, SHORT, 5) is not None
    held = await stores[0].acquire("busy", "wf-a", LONG, 5)
    await asyncio.sleep(SHORT.total_seconds() + 0.1)
    busy = await asyncio.gather(
        *(stores[i % 4].acquire("busy", "wf-a", LONG, 5) for i in range(12))
    )

    assert all(lease is not None for lease in fresh + busy)
    assert len({lease.token for lease in fresh if lease}) == 1
    assert held is not None and {lease.token for lease in busy if lease} == {held.token}
    assert [h.owner for h in await stores[0].holders("fresh")] == ["wf-a"]
    assert [h.owner for h in await stores[0].holders("busy")] == ["wf-a"]


async def test_callers_that_disagree_on_the_limit_never_exceed_the_stored_one(
    stores: list[LeaseStore],
) -> None:
    defaults = [2, 5, 3, 8]
    results = await asyncio.gather(
        *(stores[i % 4].acquire("pool", f"wf-{i}", LONG, defaults[i % 4]) for i in range(24))
    )
    stored = await stores[0].get_limit("pool")
    late = [await s.acquire("pool", "wf-late", LONG, 8) for s in stores]

    granted = [lease for lease in results if lease is not None]
    assert stored in defaults
    assert len(granted) == stored
    assert len(await stores[0].holders("pool")) == stored
    assert late == [None, None, None, None]


async def test_set_limit_overrides_defaults_and_a_shrink_regrants_no_retired_slot(
    store: LeaseStore,
) -> None:
    assert await store.set_limit("pool", 3) == 3
    granted = [await store.acquire("pool", f"wf-{i}", LONG, 1) for i in range(5)]
    assert [lease is not None for lease in granted] == [True, True, True, False, False]

    assert await store.set_limit("pool", 2) == 2
    first, second, third = await store.holders("pool")
    renewed = [await store.renew(h, LONG) for h in (first, second, third)]
    again = await store.acquire("pool", third.owner, LONG, 1)
    # Nobody running is cut off, but a retired slot given back is never granted again.
    assert [r is not None for r in renewed] == [True, True, True]
    assert again is not None and again.token == third.token
    assert await store.release(third)
    assert await store.acquire("pool", "wf-new", LONG, 9) is None
    assert await store.acquire("pool", third.owner, LONG, 9) is None

    assert await store.set_limit("pool", 4) == 4
    assert await store.acquire("pool", "wf-new", LONG, 1) is not None
    assert await store.get_limit("pool") == 4
    assert sorted(h.owner for h in await store.holders("pool")) == [
        first.owner,
        second.owner,
        "wf-new",
    ]


async def test_holders_in_the_one_document_form_move_to_slots_and_are_not_over_admitted(
    store: LeaseStore, mongo_db: Any
) -> None:
    until = ms(await server_now(mongo_db)) + 60_000
    old = [
        {"owner": f"wf-old{i}", "token": Int64(5 + i), "expires_ms": Int64(until)} for i in (0, 1)
    ]
    await store.collection.insert_one({"_id": "quota", "holders": old, "fence": Int64(6)})

    new = [await store.acquire("quota", f"wf-new{i}", LONG, 3) for i in range(3)]
    kept = await store.holders("quota")
    renewed = [await store.renew(h, LONG) for h in kept if h.owner.startswith("wf-old")]

    assert [lease is not None for lease in new] == [True, False, False]
    assert [(h.owner, h.token) for h in kept[:2]] == [("wf-old0", 5), ("wf-old1", 6)]
    assert [r.token for r in renewed if r] == [5, 6]
    assert new[0] is not None and new[0].token > 6
    assert await store.collection.count_documents({"holders": {"$exists": True}}) == 0


async def slot_count(store: LeaseStore, resource: str) -> int:
    return await store.collection.count_documents({"res": resource})


async def test_a_large_quota_has_documents_only_for_the_slots_it_has_needed(
    stores: list[LeaseStore],
) -> None:
    assert await stores[0].set_limit("big", 100_000) == 100_000
    few = [await stores[0].acquire("big", f"wf-{i}", LONG, 1) for i in range(5)]
    assert all(few)
    small = await slot_count(stores[0], "big")
    # Forty holders through four processes, each growing from its own knowledge.
    more = await asyncio.gather(
        *(stores[i % 4].acquire("big", f"wf-{i}", LONG, 1) for i in range(5, 45))
    )
    assert all(more)
    assert small < 45
    assert 45 <= await slot_count(stores[0], "big") <= 2 * 45
    assert len(await stores[1].holders("big")) == 45


async def test_growing_slots_stops_at_the_stored_limit(stores: list[LeaseStore]) -> None:
    granted = await asyncio.gather(
        *(stores[i % 4].acquire("grow", f"wf-{i}", LONG, 37) for i in range(50))
    )
    assert sum(lease is not None for lease in granted) == 37
    assert await slot_count(stores[0], "grow") == 37
    assert [await s.acquire("grow", "wf-late", LONG, 37) for s in stores] == [None] * 4


async def test_a_shrink_during_growth_admits_no_more_than_the_new_limit(
    stores: list[LeaseStore],
) -> None:
    assert await stores[0].set_limit("shrink", 64) == 64
    first = [await stores[0].acquire("shrink", f"wf-{i}", LONG, 1) for i in range(10)]
    assert all(first)
    # Another process shrinks the limit; this one still believes 64 and grows.
    assert await stores[1].set_limit("shrink", 12) == 12
    late = [await stores[0].acquire("shrink", f"late-{i}", LONG, 1) for i in range(10)]
    assert sum(lease is not None for lease in late) == 2
    assert len(await stores[2].holders("shrink")) == 12


class _Counted(monitoring.CommandListener):
    """How many commands `counts` picked out."""

    def __init__(self, counts: Callable[[monitoring.CommandStartedEvent], bool]) -> None:
        self.counts = counts
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counts(event):
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _is_insert(event: monitoring.CommandStartedEvent) -> bool:
    return event.command_name == "insert"


def _is_free_search(event: monitoring.CommandStartedEvent) -> bool:
    """A grant that searched every free slot: a findAndModify on free slots of any number."""
    query = event.command.get("query") or {}
    return event.command_name == "findAndModify" and "expires_ms" in query and "i" not in query


async def test_concurrent_refusals_in_one_process_grow_the_slots_once_per_step(
    mongo_uri: str, mongo_db: Any
) -> None:
    inserts = _Counted(_is_insert)
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, event_listeners=[inserts])
    try:
        store = LeaseStore(client[mongo_db.name])
        # 16 slots at first, then 32 and 64: three rounds of inserts, however many
        # acquires found the slots full at once.
        granted = await asyncio.gather(
            *(store.acquire("burst", f"wf-{i}", LONG, 1000) for i in range(60))
        )
    finally:
        await client.close()
    assert all(granted)
    assert inserts.count == 3, inserts.count


async def in_batches(
    stores: list[LeaseStore], resource: str, owners: range, limit: int
) -> list[Lease | None]:
    """Acquires by two processes, ten at a time (enough to overlap, few enough for an
    embedded server to answer each within the store's bound)."""
    granted: list[Lease | None] = []
    for start in range(owners.start, owners.stop, 10):
        granted += await asyncio.gather(
            *(
                stores[i % 2].acquire(resource, f"wf-{i}", LONG, limit)
                for i in range(start, min(start + 10, owners.stop))
            )
        )
    return granted


async def test_grants_by_slot_number_in_a_large_pool_keep_one_slot_per_owner_and_the_limit(
    stores: list[LeaseStore],
) -> None:
    # Past 64 known slots a grant tries a few slot numbers before any free slot.
    first = await in_batches(stores, "wide", range(120), 150)
    assert all(first)
    for lease in first[::2]:
        assert lease is not None and await stores[0].release(lease)
    again = await in_batches(stores, "wide", range(60, 200), 150)
    holders = await stores[0].holders("wide")
    # 60 still held; of the 140 asking, the 30 among them already holding get their own
    # slot back, and 90 of the other 110 the free slots.
    assert len(holders) == 150 and sum(lease is not None for lease in again) == 30 + 90
    assert len({h.owner for h in holders}) == 150
    assert len({h.token for h in holders}) == 150
    kept = {lease.owner: lease.token for lease in first[1::2] if lease is not None}
    assert all(
        kept[h.owner] == h.token for h in holders if h.owner in kept and int(h.owner[3:]) >= 60
    )


async def test_a_process_that_did_not_grow_the_slots_learns_them_from_a_grant(
    stores: list[LeaseStore], mongo_uri: str, mongo_db: Any
) -> None:
    # Another worker grew the slots to 256 and holds 130. A search of every free slot
    # reads all of them on an embedded server, so the late process must probe by
    # number as the one that grew them does, once a grant has shown how many exist.
    assert all(await in_batches(stores, "shared", range(130), 1000))
    searches = _Counted(_is_free_search)
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[searches]
    )
    try:
        late = LeaseStore(client[mongo_db.name])
        granted = [await late.acquire("shared", f"late-{i}", LONG, 1000) for i in range(20)]
    finally:
        await client.close()
    assert all(granted)
    # The first grant searches; the probes that follow miss all eight at (150/256)^8,
    # about 1.4%. Without learning every one of the 20 searches.
    assert searches.count <= 5, searches.count
    assert len({h.owner for h in await stores[0].holders("shared")}) == 150
