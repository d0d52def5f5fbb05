"""ServerWorkflow with the delete plan: the reserved slot is the idle server's deadline."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.lifecycle import ServerState
from core.models import ServerStatus, TaskSignal
from tests.workflows.fake_activities import FakeCloud
from tests.workflows.support import (
    MARGIN,
    PERIOD,
    assert_at,
    entered,
    server_input,
    start,
    wait_for_state,
    workers,
)
from workflows.server import ServerWorkflow

EARLY = timedelta(seconds=40)


async def settled(handle, check) -> ServerStatus:  # type: ignore[no-untyped-def]
    """The status once `check` holds: the slot is taken or given back just after a
    state is recorded."""
    for _ in range(100):
        status = await handle.query(ServerWorkflow.status)
        if check(status):
            return status
        await asyncio.sleep(0.05)  # real time: the activity runs, no timer is skipped
    raise AssertionError(f"never settled: {status}")


async def test_idle_server_is_deleted_at_its_reserved_slot_before_the_deadline(env):  # noqa: F811
    cloud = FakeCloud(env, plan_early=EARLY)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("planned"))
        await wait_for_state(env, handle, ServerState.READY)
        ready = await settled(handle, lambda s: s.planned_from is not None)
        (inst,) = cloud.instances.values()
        deadline = inst.created + timedelta(seconds=PERIOD - MARGIN)
        assert ready.terminate_at == deadline - EARLY
        assert ready.planned_from == deadline
        result = await handle.result()
    (terminating,) = entered(result, ServerState.TERMINATING)
    assert_at(terminating, deadline - EARLY)
    assert_at(inst.deleted, deadline - EARLY)
    assert result.billed_hours == 1
    assert cloud.plan_calls == ["reserve_delete_slot"]  # reserved once, not per wake-up


async def test_going_busy_releases_the_slot_and_the_server_outlives_it(env):  # noqa: F811
    cloud = FakeCloud(env, plan_early=EARLY)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("planned-busy"))
        await wait_for_state(env, handle, ServerState.READY)
        await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="job"))
        await wait_for_state(env, handle, ServerState.EXECUTING)
        (inst,) = cloud.instances.values()
        deadline = inst.created + timedelta(seconds=PERIOD - MARGIN)
        # The release activity may land just after the status shows the new deadline.
        busy = await settled(
            handle, lambda s: s.terminate_at == deadline and not cloud.delete_slots
        )
        assert cloud.delete_slots == {}, "a busy server holds no delete slot"
        assert busy.terminate_at == deadline and busy.planned_from is None
        await env.sleep(PERIOD - MARGIN - EARLY.total_seconds() + 3)  # past the old slot
        assert inst.deleted is None
        await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="job"))
        result = await handle.result()
    # Idle again a few seconds before the deadline: the new slot is no earlier than now.
    assert inst.deleted is not None and inst.deleted <= deadline + timedelta(seconds=1)
    assert result.billed_hours == 1
    assert cloud.plan_calls == ["reserve_delete_slot", "release_delete_slot", "reserve_delete_slot"]


async def test_kept_idle_server_takes_no_delete_slot(env):  # noqa: F811
    cloud = FakeCloud(env, plan_early=EARLY)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("kept", terminate_idle_at_deadline=False))
        ready = await wait_for_state(env, handle, ServerState.READY)
        await env.sleep(PERIOD)
        assert cloud.plan_calls == []
        assert ready.planned_from is None
        await handle.terminate()
