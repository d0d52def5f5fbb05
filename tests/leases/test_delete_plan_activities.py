"""The delete-plan activities on SecantusDB: shared budget, idempotent, released."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.delete_plan import (
    DELETE_PLAN_COLLECTION,
    DeletePlanActivities,
    ensure_delete_plan_indexes,
)
from activities.payloads import ReserveDeleteInput
from core.delete_plan import DeleteBudget

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(seconds=60)


@pytest.fixture
async def plan(mongo_db: Any) -> DeletePlanActivities:
    await ensure_delete_plan_indexes(mongo_db)
    return DeletePlanActivities(mongo_db, lambda provider: DeleteBudget(2, 1))


def reserve_input(owner: str, deadline: datetime = DEADLINE) -> ReserveDeleteInput:
    return ReserveDeleteInput(owner=owner, provider="hetzner", deadline=deadline, not_before=NOW)


async def test_concurrent_reservations_never_exceed_the_budget_per_second(plan, mongo_db):
    env = ActivityEnvironment()
    slots = await asyncio.gather(
        *(env.run(plan.reserve_delete_slot, reserve_input(f"s{i}")) for i in range(9))
    )
    per_second = Counter(slot.at for slot in slots)
    assert max(per_second.values()) == 2
    # Latest first: 9 deletes at 2 a second fill the deadline's second and 4 before it.
    assert sorted(per_second) == [DEADLINE - timedelta(seconds=s) for s in range(4, -1, -1)]
    assert all(slot.at <= DEADLINE and slot.deadline == DEADLINE for slot in slots)
    assert await mongo_db[DELETE_PLAN_COLLECTION].count_documents({}) == 9


async def test_reserving_again_is_idempotent_and_a_new_deadline_replaces_the_old(plan, mongo_db):
    env = ActivityEnvironment()
    for owner in ("a", "b"):
        await env.run(plan.reserve_delete_slot, reserve_input(owner))
    first = await env.run(plan.reserve_delete_slot, reserve_input("c"))
    again = await env.run(plan.reserve_delete_slot, reserve_input("c"))
    assert first == again and first.at == DEADLINE - timedelta(seconds=1)
    later = DEADLINE + timedelta(seconds=3600)
    moved = await env.run(plan.reserve_delete_slot, reserve_input("c", later))
    assert moved.at == later
    held = [doc async for doc in mongo_db[DELETE_PLAN_COLLECTION].find({"owner": "c"})]
    assert len(held) == 1


async def test_released_slot_is_free_for_the_next_server(plan, mongo_db):
    env = ActivityEnvironment()
    for owner in ("a", "b"):
        await env.run(plan.reserve_delete_slot, reserve_input(owner))
    assert await env.run(plan.release_delete_slot, "a") == 1
    taken = await env.run(plan.reserve_delete_slot, reserve_input("c"))
    assert taken.at == DEADLINE
    assert await env.run(plan.release_delete_slot, "a") == 0


async def test_full_plan_or_planner_off_leaves_the_deadline_unreserved(mongo_db):
    env = ActivityEnvironment()
    await ensure_delete_plan_indexes(mongo_db)
    off = DeletePlanActivities(mongo_db, lambda provider: None)
    slot = await env.run(off.reserve_delete_slot, reserve_input("a"))
    assert slot.at == DEADLINE
    tight = DeletePlanActivities(mongo_db, lambda provider: DeleteBudget(1, 1))
    short = reserve_input("b", NOW + timedelta(seconds=1))
    results = [
        await env.run(tight.reserve_delete_slot, short.model_copy(update={"owner": o}))
        for o in ("b", "c", "d")
    ]
    assert [r.at for r in results[:2]] == [NOW + timedelta(seconds=1), NOW]
    assert results[2].at == short.deadline  # no room from now to the deadline
    assert await mongo_db[DELETE_PLAN_COLLECTION].count_documents({}) == 2
