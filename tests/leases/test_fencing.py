"""Fenced writes to the read model: an older fence never overwrites a newer write."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from leases import LeaseStore


async def test_fenced_write_creates_the_document_with_its_fence(
    store: LeaseStore, mongo_db: Any
) -> None:
    assert await store.fenced_write("servers", "srv-1", {"state": "READY"}, 5) is True

    assert await mongo_db.servers.find_one({"_id": "srv-1"}) == {
        "_id": "srv-1",
        "state": "READY",
        "fence": 5,
    }


async def test_fenced_write_rejects_a_stale_fence(store: LeaseStore, mongo_db: Any) -> None:
    await store.fenced_write("servers", "srv-1", {"state": "TERMINATING", "note": "new"}, 9)

    assert await store.fenced_write("servers", "srv-1", {"state": "READY"}, 8) is False
    doc = await mongo_db.servers.find_one({"_id": "srv-1"})
    assert (doc["state"], doc["note"], doc["fence"]) == ("TERMINATING", "new", 9)


async def test_fenced_write_accepts_an_equal_or_newer_fence_and_keeps_other_fields(
    store: LeaseStore, mongo_db: Any
) -> None:
    await store.fenced_write("servers", "srv-1", {"state": "READY", "region": "ewr"}, 3)

    assert await store.fenced_write("servers", "srv-1", {"state": "EXECUTING"}, 3) is True
    assert await store.fenced_write("servers", "srv-1", {"state": "IDLE"}, 4) is True
    doc = await mongo_db.servers.find_one({"_id": "srv-1"})
    assert (doc["state"], doc["region"], doc["fence"]) == ("IDLE", "ewr", 4)


async def test_fenced_write_stores_dollar_strings_as_data(store: LeaseStore, mongo_db: Any) -> None:
    fields = {"label": "$state", "tags": {"$x": 1}}
    assert await store.fenced_write("servers", "srv-1", fields, 1) is True

    doc = await mongo_db.servers.find_one({"_id": "srv-1"})
    assert (doc["label"], doc["tags"]) == ("$state", {"$x": 1})


@pytest.mark.parametrize("field", ["_id", "fence", "$set", "a.b", ""])
async def test_fenced_write_refuses_fields_it_cannot_fence(store: LeaseStore, field: str) -> None:
    with pytest.raises(ValueError, match="cannot be written with a fence"):
        await store.fenced_write("servers", "srv-1", {field: 1}, 1)


async def test_concurrent_fenced_writes_end_with_the_highest_fence(
    store: LeaseStore, mongo_db: Any
) -> None:
    fences = list(range(1, 41))
    results = await asyncio.gather(
        *(store.fenced_write("servers", "srv-1", {"writer": f}, f) for f in reversed(fences))
    )

    doc = await mongo_db.servers.find_one({"_id": "srv-1"})
    assert (doc["writer"], doc["fence"]) == (40, 40)
    assert results[0] is True  # fence 40 is the highest: accepted whenever it ran


async def test_a_paused_holders_write_is_rejected_after_a_takeover(
    store: LeaseStore, mongo_db: Any
) -> None:
    paused = await store.acquire("claim:srv-1", "job-a", timedelta(milliseconds=200))
    assert paused is not None
    await asyncio.sleep(0.3)
    current = await store.acquire("claim:srv-1", "job-b", timedelta(seconds=30))
    assert current is not None
    assert await store.fenced_write("servers", "srv-1", {"job": "job-b"}, current.token) is True

    # The paused holder wakes up and writes with its old token: the fence refuses it.
    assert await store.fenced_write("servers", "srv-1", {"job": "job-a"}, paused.token) is False
    doc = await mongo_db.servers.find_one({"_id": "srv-1"})
    assert (doc["job"], doc["fence"]) == ("job-b", current.token)
