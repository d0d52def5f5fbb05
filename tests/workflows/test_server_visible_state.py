"""What a user sees of a server's plans: the policy it runs by (the worker's), when it
will go (terminate_at follows the policy), a pending termination and its reason."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from activities.policy import PolicyActivities
from core.lifecycle import ServerState
from core.models import PolicyOverrides, ServerInput, TaskSignal, TerminationRequest
from core.settings import load_settings
from tests.workflows.fake_activities import FakeCloud
from tests.workflows.support import (
    MARGIN,
    PERIOD,
    SPEC,
    assert_at,
    entered,
    server_input,
    start,
    wait_for_state,
    workers,
)
from workflows.server import ServerWorkflow

WORKER_PERIOD = 1200
WORKER_MARGIN = 30


def policy_workers(env: WorkflowEnvironment, cloud: FakeCloud) -> AbstractAsyncContextManager[str]:
    """The fake cloud, and the real policy resolution with a worker's settings."""
    settings = load_settings(
        billing_period_seconds=WORKER_PERIOD, terminate_before_seconds=WORKER_MARGIN
    )
    return workers(env, cloud, [PolicyActivities(settings).resolve_policy])


async def test_server_started_without_a_policy_runs_by_the_workers_settings(env):
    cloud = FakeCloud(env)
    inp = ServerInput(name="by-worker", spec=SPEC, overrides=PolicyOverrides(max_idle_seconds=5000))
    async with policy_workers(env, cloud) as queue:
        handle = await start(env, queue, inp)
        ready = await wait_for_state(env, handle, ServerState.READY)
        result = await handle.result()
    (inst,) = cloud.instances.values()
    assert ready.billing_period_seconds == WORKER_PERIOD
    assert ready.next_boundary == inst.created + timedelta(seconds=WORKER_PERIOD)
    # max idle (5000 s) is later than the worker's deadline: the deadline decides.
    assert_at(inst.deleted, inst.created + timedelta(seconds=WORKER_PERIOD - WORKER_MARGIN))
    assert result.billing_period_seconds == WORKER_PERIOD


async def test_terminate_at_is_max_idle_after_going_idle_when_that_comes_first(env):
    cloud = FakeCloud(env)
    async with policy_workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("short-idle", max_idle_seconds=600))
        ready = await wait_for_state(env, handle, ServerState.READY)
        (ready_at,) = entered(ready, ServerState.READY)
        assert ready.terminate_at == ready_at + timedelta(seconds=600)
        result = await handle.result()
    (inst,) = cloud.instances.values()
    assert_at(inst.deleted, ready_at + timedelta(seconds=600))
    assert result.billed_hours == 1


async def test_keep_idle_without_limits_announces_no_end(env):
    cloud = FakeCloud(env)
    async with policy_workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("kept", terminate_idle_at_deadline=False))
        await wait_for_state(env, handle, ServerState.READY)
        await env.sleep(PERIOD + 60)  # past the first deadline, still kept
        status = await handle.query(ServerWorkflow.status)
        assert status.state == ServerState.READY  # never ran a task: idle since READY
        assert status.terminate_at is None
        await handle.execute_update(ServerWorkflow.terminate, TerminationRequest(immediately=True))


async def test_keep_idle_with_max_lifetime_announces_the_first_deadline_past_it(env):
    cloud = FakeCloud(env)
    async with policy_workers(env, cloud) as queue:
        handle = await start(
            env,
            queue,
            server_input("lifetime", terminate_idle_at_deadline=False, max_lifetime_seconds=5000),
        )
        ready = await wait_for_state(env, handle, ServerState.READY)
        await handle.result()
    (inst,) = cloud.instances.values()
    expected = inst.created + timedelta(seconds=2 * PERIOD - MARGIN)
    assert ready.terminate_at == expected
    assert_at(inst.deleted, expected)


async def test_terminate_on_a_busy_server_shows_the_pending_termination_and_reason(env):
    cloud = FakeCloud(env)
    async with policy_workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("t-1"))
        await wait_for_state(env, handle, ServerState.READY)
        await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id="job"))
        answer = await handle.execute_update(
            ServerWorkflow.terminate, TerminationRequest(reason="nightly cleanup")
        )
        queried = await handle.query(ServerWorkflow.status)
        (inst,) = cloud.instances.values()
        deadline = inst.created + timedelta(seconds=PERIOD - MARGIN)
        for status in (answer, queried):
            assert status.state == ServerState.EXECUTING
            assert status.termination == TerminationRequest(reason="nightly cleanup")
            assert status.terminate_at == deadline
        await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id="job"))
        result = await handle.result()
    assert result.termination is None, "carried out: no longer pending"
    assert result.timeline[-1].reason == "nightly cleanup"
    assert_at(inst.deleted, deadline)


async def test_terminate_now_answers_with_the_termination_it_started(env):
    cloud = FakeCloud(env)
    async with policy_workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("q-2"))
        await wait_for_state(env, handle, ServerState.READY)
        await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id="job"))
        answer = await handle.execute_update(
            ServerWorkflow.terminate, TerminationRequest(reason="now", immediately=True)
        )
        await handle.result()
    assert answer.state in (ServerState.TERMINATING, ServerState.TERMINATED)
