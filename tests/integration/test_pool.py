"""The warm pool keeps min_idle available, replaces only what it needs, obeys the quota."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from client.claims import ClaimBroker
from leases import LeaseStore
from tests.integration.support import PERIOD, Fleet
from tests.support.waits import wait_until
from workflows.pool import PoolInput, WarmPoolWorkflow

pytestmark = [pytest.mark.integration]


async def census(fleet: Fleet, pool: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    async for doc in fleet.db["servers"].find({"pool": pool}):
        counts[doc["state"]] = counts.get(doc["state"], 0) + 1
    return counts


async def start_pool(fleet: Fleet, pool: str, min_idle: int):
    return await fleet.client.start_workflow(
        WarmPoolWorkflow.run,
        PoolInput(
            pool=pool,
            spec=fleet.spec(),
            policy=fleet.policy(),
            min_idle=min_idle,
            check_every_seconds=1,
        ),
        id=f"pool-{pool}-{uuid.uuid4().hex[:6]}",
        task_queue=fleet.settings.temporal_task_queue,
    )


async def wait_available(fleet: Fleet, pool: str, n: int, seconds: float = 30) -> dict[str, int]:
    async def available() -> dict[str, int] | None:
        counts = await census(fleet, pool)
        return counts if counts.get("READY", 0) + counts.get("IDLE", 0) >= n else None

    return await wait_until(available, within=seconds, interval=0.25, what=f"{n} available")


async def shutdown(fleet: Fleet, pool_handle) -> None:
    await pool_handle.terminate()
    async for doc in fleet.db["servers"].find({"state": {"$nin": ["TERMINATED", "ERROR"]}}):
        handle = fleet.client.get_workflow_handle(doc["workflow_id"])
        await handle.signal("request_termination", {"reason": "t", "immediately": True})
    for _ in range(120):
        if not fleet.live_instances():
            return
        await asyncio.sleep(0.5)


async def test_the_pool_keeps_min_idle_across_deadlines_without_churn(fleet: Fleet):
    pool = await start_pool(fleet, "warm", 2)
    await wait_available(fleet, "warm", 2)
    await asyncio.sleep(PERIOD * 2)  # two deadlines pass
    counts = await census(fleet, "warm")
    assert counts.get("READY", 0) + counts.get("IDLE", 0) == 2, counts
    assert len(fleet.ledger()) == 2, "kept members stay; nothing is deleted and replaced"
    await shutdown(fleet, pool)


async def test_the_pool_replaces_a_claimed_member(fleet: Fleet):
    pool = await start_pool(fleet, "churn", 1)
    await wait_available(fleet, "churn", 1)
    broker = ClaimBroker(fleet.client, fleet.settings, fleet.db, LeaseStore(fleet.db))
    claim = await broker.claim("job-x")
    assert claim.reused
    for _ in range(120):
        counts = await census(fleet, "churn")
        if counts.get("EXECUTING") == 1 and counts.get("READY", 0) + counts.get("IDLE", 0) == 1:
            break
        await asyncio.sleep(0.25)
    assert counts.get("EXECUTING") == 1, counts
    assert counts.get("READY", 0) + counts.get("IDLE", 0) == 1, counts
    await asyncio.sleep(3)
    assert len(fleet.live_instances()) == 2, "exactly one replacement"
    await shutdown(fleet, pool)


async def test_the_pool_never_exceeds_the_quota(fleet_factory):
    fleet: Fleet = await fleet_factory(max_servers=2)
    pool = await start_pool(fleet, "capped", 4)
    await wait_available(fleet, "capped", 2)
    await asyncio.sleep(4)
    assert len(fleet.live_instances()) == 2
    counts = await census(fleet, "capped")
    assert counts.get("PROVISIONING", 0) == 2, "the rest wait for quota slots"
    await shutdown(fleet, pool)
    assert fleet.live_instances() == []
