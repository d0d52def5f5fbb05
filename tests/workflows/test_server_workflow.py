"""ServerWorkflow on the time-skipping test server with in-memory activities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from core.lifecycle import ServerState
from core.models import (
    TaskSignal,
    TerminationRequest,
)
from tests.support.outcome import final_status
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


async def test_idle_server_is_deleted_exactly_margin_before_its_first_boundary(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("idle-one"))
        result = await handle.result()
    (inst,) = cloud.instances.values()
    deadline = inst.created + timedelta(seconds=PERIOD - MARGIN)
    assert result.state == ServerState.TERMINATED
    (terminating,) = entered(result, ServerState.TERMINATING)
    assert_at(terminating, deadline)
    assert_at(inst.deleted, deadline)
    assert result.billed_hours == 1
    assert cloud.leases_held == set()
    # The termination slot is given back as soon as the DELETE is accepted, not after
    # the confirmation: a slot is what clustered deadlines are short of.
    order = [
        c
        for c in cloud.calls
        if c in {"delete_instance", "release_termination_slot", "confirm_deleted"}
    ]
    assert order == ["delete_instance", "release_termination_slot", "confirm_deleted"]


async def test_deletes_go_ahead_of_readiness_polls_in_the_vultr_queue(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("ordered"))
        await handle.result()
    history = await handle.fetch_history()
    priority = {
        e.activity_task_scheduled_event_attributes.activity_type.name: (
            e.activity_task_scheduled_event_attributes.priority.priority_key
        )
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    assert priority["delete_instance"] < priority["check_ready"]
    assert priority["delete_instance"] == 1


async def test_busy_server_survives_its_deadline_and_goes_at_the_next_one(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("busy-across"))
        await wait_for_state(env, handle, ServerState.READY)
        await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="job-1"))
        await wait_for_state(env, handle, ServerState.EXECUTING)
        await env.sleep(PERIOD + 600)  # well past the first deadline
        (inst,) = cloud.instances.values()
        assert inst.deleted is None, "a busy server must never be deleted by the timer"
        await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="job-1"))
        result = await handle.result()
    assert_at(inst.deleted, inst.created + timedelta(seconds=2 * PERIOD - MARGIN))
    assert result.billed_hours == 2


async def test_busy_signal_during_provisioning_is_honoured(env):
    cloud = FakeCloud(env, boot_checks=5)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("early-job"))
        await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="early"))
        status = await wait_for_state(env, handle, ServerState.EXECUTING)
        assert status.active_tasks == ["early"]
        await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="early"))
        result = await handle.result()
    states = [entry.state for entry in result.timeline]
    assert states == [
        ServerState.PROVISIONING,
        ServerState.READY,
        ServerState.EXECUTING,
        ServerState.IDLE,
        ServerState.TERMINATING,
        ServerState.TERMINATED,
    ]


async def test_idle_busy_idle_round_trip_then_terminates_at_deadline(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("round-trip"))
        await wait_for_state(env, handle, ServerState.READY)
        for task in ("a", "b"):
            await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id=task))
            await wait_for_state(env, handle, ServerState.EXECUTING)
            await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id=task))
            await wait_for_state(env, handle, ServerState.IDLE)
        result = await handle.result()
    (inst,) = cloud.instances.values()
    assert_at(inst.deleted, inst.created + timedelta(seconds=PERIOD - MARGIN))
    assert result.billed_hours == 1


async def test_going_idle_after_the_deadline_waits_for_the_next_deadline(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("late-idle"))
        await wait_for_state(env, handle, ServerState.READY)
        await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="long"))
        await wait_for_state(env, handle, ServerState.EXECUTING)
        await env.sleep(PERIOD - 30)  # now inside the margin: this hour's deadline passed
        await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="long"))
        status = await wait_for_state(env, handle, ServerState.IDLE)
        (inst,) = cloud.instances.values()
        assert_at(status.terminate_at, inst.created + timedelta(seconds=2 * PERIOD - MARGIN))
        result = await handle.result()
    assert_at(inst.deleted, inst.created + timedelta(seconds=2 * PERIOD - MARGIN))
    assert result.billed_hours == 2


async def test_readiness_timeout_deletes_the_instance_and_ends_in_error(env):
    cloud = FakeCloud(env, never_ready=True)
    async with workers(env, cloud) as queue:
        result = await final_status(await start(env, queue, server_input("never-boots")))
    assert result.state == ServerState.ERROR
    assert "check_ready timed out" in (result.error or "")
    (inst,) = cloud.instances.values()
    assert inst.deleted is not None
    assert cloud.leases_held == set()


async def test_non_retryable_vultr_error_ends_in_error_without_creating(env):
    error = ApplicationError(
        "401 from Vultr: check VULTR_API_KEY", type="VultrAuthError", non_retryable=True
    )
    cloud = FakeCloud(env, create_error=error)
    async with workers(env, cloud) as queue:
        result = await final_status(await start(env, queue, server_input("bad-key")))
    assert result.state == ServerState.ERROR
    assert "VULTR_API_KEY" in (result.error or "")
    assert cloud.live() == []
    assert cloud.calls.count("create_instance") == 1, "a non-retryable error must fail fast"


async def test_unknown_region_is_refused_before_anything_is_created(env):
    error = ApplicationError(
        "unknown region 'xyz'", type="VultrValidationError", non_retryable=True
    )
    cloud = FakeCloud(env, quote_error=error)
    async with workers(env, cloud) as queue:
        result = await final_status(await start(env, queue, server_input("nowhere")))
    assert result.state == ServerState.ERROR
    assert "unknown region" in (result.error or "")
    assert "create_instance" not in cloud.calls
    assert "take_quota_slot" not in cloud.calls


async def test_immediate_termination_deletes_at_once(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("now-please"))
        ready = await wait_for_state(env, handle, ServerState.READY)
        await handle.execute_update(
            ServerWorkflow.terminate, TerminationRequest(reason="test", immediately=True)
        )
        result = await handle.result()
    (inst,) = cloud.instances.values()
    assert inst.deleted is not None
    assert inst.deleted < ready.terminate_at
    assert result.timeline[-1].reason == "test"


async def test_termination_during_provisioning_deletes_what_was_created(env):
    cloud = FakeCloud(env, boot_checks=50)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("cancel-early"))
        while not cloud.instances:
            await handle.describe()
        await handle.signal(
            ServerWorkflow.request_termination, TerminationRequest(reason="stop", immediately=True)
        )
        result = await handle.result()
    assert result.state == ServerState.TERMINATED
    assert cloud.live() == []


async def test_mark_idle_for_a_task_that_is_not_running_is_refused_by_update(env):
    from temporalio.client import WorkflowUpdateFailedError

    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("strict"))
        await wait_for_state(env, handle, ServerState.READY)
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id="ghost"))
        assert "task ghost is not running" in str(failure.value.cause)
        status = await handle.query(ServerWorkflow.status)
        assert status.state == ServerState.READY
        await handle.execute_update(
            ServerWorkflow.terminate, TerminationRequest(reason="done", immediately=True)
        )
        await handle.result()


async def test_claim_is_exclusive(env):
    from core.models import ClaimRequest

    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("exclusive"))
        await wait_for_state(env, handle, ServerState.READY)
        first = await handle.execute_update(ServerWorkflow.claim, ClaimRequest(task_id="j1"))
        second = await handle.execute_update(ServerWorkflow.claim, ClaimRequest(task_id="j2"))
        again = await handle.execute_update(ServerWorkflow.claim, ClaimRequest(task_id="j1"))
        assert first.accepted and again.accepted
        assert not second.accepted and "busy with j1" in second.reason
        await handle.execute_update(
            ServerWorkflow.terminate, TerminationRequest(reason="done", immediately=True)
        )
        await handle.result()


async def test_read_model_writes_carry_increasing_fences(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        await (await start(env, queue, server_input("fenced"))).result()
    fences = [r.fence for r in cloud.records]
    assert fences == sorted(fences) and len(set(fences)) == len(fences)
    assert cloud.records[-1].status.state == ServerState.TERMINATED


async def test_an_idle_timeout_policy_ignores_deadlines_and_goes_after_max_idle(env):
    """The policy other tools use (terminate after N idle seconds), for comparison."""
    cloud = FakeCloud(env)
    idle_limit = PERIOD + 600  # outlives the first deadline
    async with workers(env, cloud) as queue:
        handle = await start(
            env,
            queue,
            server_input(
                "idle-timeout", terminate_idle_at_deadline=False, max_idle_seconds=idle_limit
            ),
        )
        ready = await wait_for_state(env, handle, ServerState.READY)
        result = await handle.result()
    (inst,) = cloud.instances.values()
    (ready_at,) = entered(ready, ServerState.READY)
    assert_at(inst.deleted, ready_at + timedelta(seconds=idle_limit))
    assert result.billed_hours == 2
    assert result.timeline[-2].reason == "idle longer than max_idle_seconds"
