"""Mutual exclusion under contention: many clients, many processes, first inserts."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from leases import Lease, LeaseStore
from tests.leases.support import (
    Hold,
    acquire_within,
    max_concurrent,
    ms,
    overlapping_pairs,
    server_now,
)

ROOT = Path(__file__).resolve().parents[2]
TTL = timedelta(seconds=10)


def test_overlap_counting_detects_overlaps_and_ignores_touching_spans() -> None:
    a = Hold("a", 1, 100, 110)
    touching = Hold("b", 2, 110, 120)
    inside = Hold("c", 3, 105, 108)

    assert overlapping_pairs([a, touching]) == []
    assert max_concurrent([a, touching]) == 1
    assert overlapping_pairs([a, touching, inside]) == [(a, inside)]
    assert max_concurrent([a, touching, inside]) == 2


async def _contend(
    store: LeaseStore, resource: str, owner: str, limit: int, holds: int, occupancy: list[int]
) -> list[Hold]:
    """Take the lease `holds` times, recording each hold in server time; `occupancy`
    counts holders inside this event loop, where it is exact."""
    db = store.collection.database
    out: list[Hold] = []
    while len(out) < holds:
        lease = await store.acquire(resource, owner, TTL, limit)
        if lease is None:
            await asyncio.sleep(0.001)
            continue
        occupancy[0] += 1
        occupancy[1] = max(occupancy[1], occupancy[0])
        start = await server_now(db)
        await asyncio.sleep(0.002)
        end = await server_now(db)
        assert end < lease.expires_at, "hold overran its TTL; the test needs a larger TTL"
        occupancy[0] -= 1
        out.append(Hold(owner, lease.token, ms(start), ms(end)))
        assert await store.release(lease) is True
    return out


async def _run_clients(
    mongo_uri: str, db_name: str, resource: str, limit: int, clients: int, holds: int
) -> tuple[list[Hold], int]:
    """`clients` owners, each with its own AsyncMongoClient (its own connections)."""
    mongo: list[AsyncMongoClient[Any]] = [
        AsyncMongoClient(mongo_uri, tz_aware=True) for _ in range(clients)
    ]
    occupancy = [0, 0]
    try:
        stores = [LeaseStore(client[db_name]) for client in mongo]
        results = await asyncio.gather(
            *(
                _contend(s, resource, f"owner-{i}", limit, holds, occupancy)
                for i, s in enumerate(stores)
            )
        )
    finally:
        await asyncio.gather(*(client.close() for client in mongo))
    return [h for r in results for h in r], occupancy[1]


async def test_lease_is_mutually_exclusive_across_concurrent_clients(
    mongo_uri: str, mongo_db: Any
) -> None:
    holds, peak = await _run_clients(mongo_uri, mongo_db.name, "quota", 1, clients=8, holds=15)

    assert len(holds) == 120
    assert peak == 1
    assert overlapping_pairs(holds) == []
    tokens = sorted(holds, key=lambda h: h.start_ms)
    assert len({h.token for h in holds}) == len(holds)
    assert [h.token for h in tokens] == sorted(h.token for h in tokens)


async def test_semaphore_never_exceeds_its_limit_across_concurrent_clients(
    mongo_uri: str, mongo_db: Any
) -> None:
    holds, peak = await _run_clients(
        mongo_uri, mongo_db.name, "terminations", 3, clients=10, holds=12
    )

    assert len(holds) == 120
    assert peak <= 3
    assert max_concurrent(holds) <= 3
    assert len({h.token for h in holds}) == len(holds)


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.leases.contender", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(("resource", "limit"), [("quota", 1), ("terminations", 2)])
async def test_no_more_than_limit_holders_across_processes(
    mongo_uri: str, mongo_db: Any, resource: str, limit: int
) -> None:
    procs = [
        _spawn("contend", mongo_uri, mongo_db.name, resource, f"proc-{i}", str(limit), "25")
        for i in range(3)
    ]
    holds: list[Hold] = []
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0, err
        holds += [Hold(**json.loads(line)) for line in out.splitlines()]

    assert len(holds) == 75
    assert {h.owner for h in holds} == {"proc-0", "proc-1", "proc-2"}
    assert max_concurrent(holds) <= limit
    if limit == 1:
        assert overlapping_pairs(holds) == []
    assert len({h.token for h in holds}) == len(holds)


@pytest.mark.parametrize("limit", [1, 3])
async def test_first_insert_race_on_a_missing_resource_grants_exactly_limit(
    mongo_uri: str, mongo_db: Any, limit: int
) -> None:
    mongo: list[AsyncMongoClient[Any]] = [
        AsyncMongoClient(mongo_uri, tz_aware=True) for _ in range(4)
    ]
    try:
        stores = [LeaseStore(client[mongo_db.name]) for client in mongo]
        for round_ in range(5):
            resource = f"fresh-{round_}"
            results = await asyncio.gather(
                *(
                    stores[i % len(stores)].acquire(resource, f"owner-{i}", TTL, limit)
                    for i in range(16)
                )
            )
            granted = [lease for lease in results if lease is not None]
            assert len(granted) == limit
            assert len({lease.token for lease in granted}) == limit
            assert sorted(h.owner for h in await stores[0].holders(resource)) == sorted(
                lease.owner for lease in granted
            )
    finally:
        await asyncio.gather(*(client.close() for client in mongo))


async def test_a_killed_holder_is_reclaimed_within_ttl_plus_one_poll(
    mongo_uri: str, mongo_db: Any, store: LeaseStore
) -> None:
    ttl_ms, poll = 600, timedelta(milliseconds=100)
    holder = _spawn("hold", mongo_uri, mongo_db.name, "quota", "doomed", str(ttl_ms))
    try:
        line = await asyncio.to_thread(holder.stdout.readline)  # type: ignore[union-attr]
        held = Lease.model_validate_json(line)
    finally:
        holder.kill()
        holder.wait(timeout=10)

    lease = await acquire_within(
        store, "quota", "rescuer", TTL, within=timedelta(seconds=5), poll=poll
    )

    assert lease is not None and lease.token > held.token
    granted_at = lease.expires_at - TTL
    assert granted_at >= held.expires_at
    assert granted_at - held.expires_at <= poll + timedelta(milliseconds=100)
    assert await server_now(mongo_db) - held.expires_at < poll + timedelta(seconds=1)
