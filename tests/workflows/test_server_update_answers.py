"""Updates answer with the state they led to, in the workflow task that ran them: the
handler that changes the tasks applies EXECUTING/IDLE and the planned end, and the
main loop only writes the read model."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from core.lifecycle import ServerState
from core.models import ClaimRequest, TaskSignal
from tests.workflows.fake_activities import FakeCloud
from tests.workflows.support import (
    MARGIN,
    PERIOD,
    server_input,
    start,
    wait_for_state,
    workers,
)
from workflows.server import ServerWorkflow


async def workflow_tasks_between_accept_and_answer(handle: WorkflowHandle) -> list[int]:
    """For each update in the history: how many workflow tasks completed between its
    acceptance and its answer (0: answered in the task that ran the handler)."""
    history = await handle.fetch_history()
    completed_at: dict[str, int] = {}
    accepted_at: dict[str, int] = {}
    tasks = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            update_id = (
                event.workflow_execution_update_accepted_event_attributes.protocol_instance_id
            )
            accepted_at[update_id] = tasks
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            update_id = event.workflow_execution_update_completed_event_attributes.meta.update_id
            completed_at[update_id] = tasks
    assert completed_at.keys() == accepted_at.keys()
    return [completed_at[u] - accepted_at[u] for u in accepted_at]


async def test_busy_and_idle_updates_answer_with_their_state_in_the_task_that_ran_them(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("answers"))
        ready = await wait_for_state(env, handle, ServerState.READY)
        busy = await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id="j1"))
        await env.sleep(30)
        idle = await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id="j1"))
        claimed = await handle.execute_update(ServerWorkflow.claim, ClaimRequest(task_id="j2"))
        await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id="j2"))
        result = await handle.result()
        gaps = await workflow_tasks_between_accept_and_answer(handle)
    assert busy.state == ServerState.EXECUTING and busy.active_tasks == ["j1"]
    assert idle.state == ServerState.IDLE and idle.active_tasks == []
    assert claimed.accepted and claimed.state == ServerState.EXECUTING
    # The answer says when the idle server goes: margin before its first boundary.
    (inst,) = cloud.instances.values()
    assert idle.terminate_at == inst.created + timedelta(seconds=PERIOD - MARGIN)
    assert ready.terminate_at == idle.terminate_at
    assert gaps == [0, 0, 0, 0]
    assert result.state == ServerState.TERMINATED


async def test_each_busy_or_idle_change_writes_the_read_model_once(env):
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("one-write"))
        await wait_for_state(env, handle, ServerState.READY)
        for task in ("j1", "j2"):
            await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id=task))
            await env.sleep(10)
            await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id=task))
            await env.sleep(10)
        await handle.result()
    serving = [
        r.status.state
        for r in cloud.records
        if r.status.state in (ServerState.EXECUTING, ServerState.IDLE)
    ]
    assert serving == [ServerState.EXECUTING, ServerState.IDLE] * 2
    fences = [r.fence for r in cloud.records]
    assert fences == sorted(fences) and len(set(fences)) == len(fences)


async def test_a_signal_moves_the_state_before_the_main_loop_runs(env):
    """mark_busy applies EXECUTING in its handler: a query in the same breath sees it,
    with the task and the timeline entry."""
    cloud = FakeCloud(env)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("signalled"))
        await wait_for_state(env, handle, ServerState.READY)
        await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="j1"))
        status = await handle.query(ServerWorkflow.status)
        await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="j1"))
        await handle.result()
    assert status.state == ServerState.EXECUTING
    assert status.timeline[-1].reason == "task started: j1"
