"""A process sends at most `max_in_flight` lease store calls at once (lease calls and
fenced read-model writes): a burst waits in the store, before each call's timeout
starts, instead of timing out in the driver's pool or the server's queue; a call that
cannot get in is refused unsent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.leases import LEASE_STORE_BUSY, mongo_errors
from leases import LeaseStore, LeaseStoreBusy

LONG = timedelta(seconds=30)
LEASE_COMMANDS = {"findAndModify", "update", "insert", "find", "aggregate"}


class _InFlight(monitoring.CommandListener):
    """The most lease-collection commands the client had outstanding at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in LEASE_COMMANDS:
            self.now += 1
            self.most = max(self.most, self.now)

    def _ended(self, event: Any) -> None:
        if event.command_name in LEASE_COMMANDS:
            self.now -= 1

    succeeded = failed = _ended


@asynccontextmanager
async def counted_store(
    mongo_uri: str, db_name: str
) -> AsyncIterator[tuple[LeaseStore, _InFlight]]:
    """A store with `max_in_flight=3` on a client whose lease commands are counted
    from the moment it is ready."""
    listener = _InFlight()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[listener]
    )
    try:
        store = LeaseStore(client[db_name], max_in_flight=3)
        await store.ensure_indexes()
        listener.most = 0
        yield store, listener
    finally:
        await client.close()


async def test_a_burst_of_acquires_sends_at_most_max_in_flight_calls_at_once(
    mongo_uri: str, mongo_db: Any
) -> None:
    async with counted_store(mongo_uri, mongo_db.name) as (store, listener):
        granted = await asyncio.gather(
            *(store.acquire("gated", f"wf-{i}", LONG, 100) for i in range(60))
        )
        holders = await store.holders("gated")

    assert all(granted)
    assert len(holders) == 60
    # Slot growth is one of the three; it sends its inserts one batch at a time.
    assert 1 < listener.most <= 3, listener.most


async def test_fenced_writes_share_the_bound_with_lease_calls(
    mongo_uri: str, mongo_db: Any
) -> None:
    async with counted_store(mongo_uri, mongo_db.name) as (store, listener):
        writes = (
            store.fenced_write("servers", f"srv-{i}", {"state": "READY"}, 1) for i in range(40)
        )
        acquires = (store.acquire("mixed", f"wf-{i}", LONG, 100) for i in range(20))
        results = await asyncio.gather(*writes, *acquires)
    written = await mongo_db["servers"].count_documents({"state": "READY"})

    assert all(results)
    assert written == 40
    assert 1 < listener.most <= 3, listener.most


async def test_a_fenced_write_that_cannot_get_in_is_refused_without_being_sent(
    mongo_db: Any,
) -> None:
    store = LeaseStore(mongo_db, max_in_flight=1, op_timeout=timedelta(milliseconds=400))
    await store.ensure_indexes()

    async with store._admitted("acquire", "held-open"):
        with pytest.raises(LeaseStoreBusy, match="fenced write on 'servers/srv-1' not sent"):
            await store.fenced_write("servers", "srv-1", {"state": "READY"}, 1)

    assert await mongo_db["servers"].find_one({"_id": "srv-1"}) is None
    assert await store.fenced_write("servers", "srv-1", {"state": "READY"}, 1) is True


async def test_a_call_that_cannot_get_in_is_refused_without_being_sent(mongo_db: Any) -> None:
    store = LeaseStore(mongo_db, max_in_flight=1, op_timeout=timedelta(milliseconds=400))
    await store.ensure_indexes()
    loop = asyncio.get_running_loop()

    async with store._admitted("acquire", "held-open"):  # the one call in flight
        started = loop.time()
        with pytest.raises(LeaseStoreBusy, match="1 lease store calls in flight") as busy:
            await store.acquire("refused", "wf-a", LONG, 5)
        waited = loop.time() - started

    assert 0.15 <= waited < 1.0  # half the op timeout
    assert busy.value.resource == "refused"
    assert await store.holders("refused") == []
    assert await store.acquire("refused", "wf-a", LONG, 5) is not None  # once it is free


def test_an_activity_reports_a_busy_store_as_a_benign_retryable_error() -> None:
    with pytest.raises(ApplicationError) as raised:
        with mongo_errors("take a slot of 'quota:vultr' for 'server-a'"):
            raise LeaseStoreBusy("acquire", "quota:vultr", 32, 2.5)

    assert raised.value.type == LEASE_STORE_BUSY
    assert raised.value.category == ApplicationErrorCategory.BENIGN
    assert not raised.value.non_retryable
    assert raised.value.message.startswith("take a slot of 'quota:vultr' for 'server-a': acquire")


def test_max_in_flight_below_one_is_refused(mongo_db: Any) -> None:
    with pytest.raises(ValueError, match="max_in_flight must be at least 1, got 0"):
        LeaseStore(mongo_db, max_in_flight=0)
