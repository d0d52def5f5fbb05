"""Leases and the fence survive a restart of the database server (on-disk storage)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from leases import LeaseStore
from tests.support.mongo import RestartableMongo

LONG = timedelta(seconds=60)


async def _store(uri: str) -> tuple[AsyncMongoClient[Any], LeaseStore]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri, tz_aware=True)
    store = LeaseStore(client["leases_restart"])
    await store.ensure_indexes()
    return client, store


@pytest.mark.parametrize(
    "down", [RestartableMongo.stop, RestartableMongo.kill], ids=["stop", "kill"]
)
async def test_fence_keeps_growing_across_a_server_restart(
    restartable_mongo: RestartableMongo, down: Callable[[RestartableMongo], None]
) -> None:
    client, store = await _store(restartable_mongo.uri)
    tokens = []
    released = await store.acquire("quota", "wf-a", LONG)
    assert released is not None and await store.release(released)
    expired = await store.acquire("quota", "wf-b", timedelta(milliseconds=200))
    assert expired is not None
    await asyncio.sleep(0.3)
    held = await store.acquire("quota", "wf-c", LONG)
    assert held is not None
    tokens += [released.token, expired.token, held.token]
    await client.close()

    await asyncio.to_thread(down, restartable_mongo)
    await asyncio.to_thread(restartable_mongo.start)

    client, store = await _store(restartable_mongo.uri)
    try:
        assert await store.holders("quota") == [held]
        assert await store.acquire("quota", "wf-d", LONG) is None
        assert await store.release(held)
        after = await store.acquire("quota", "wf-d", LONG)
        assert after is not None
        tokens.append(after.token)
        assert tokens == sorted(set(tokens))
    finally:
        await client.close()
