"""Continue-as-new through the real path: the session dev server suggests it after 60
history events (limit.historyCount.suggestContinueAsNew), so a busy server rolls over."""

from __future__ import annotations

import asyncio
import os

import pytest

from core.lifecycle import ServerState
from core.models import ServerInput, TaskSignal
from tests.integration.support import Fleet, wait_until_ready
from workflows.server import ServerWorkflow

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("TEMPORAL_ADDRESS")),
        reason="needs the dev server started with a low suggestContinueAsNew limit",
    ),
]


async def test_state_and_tasks_survive_continue_as_new(fleet: Fleet):
    handle = await fleet.start("long-lived", billing_period_seconds=600)
    await wait_until_ready(handle)
    first_run = (await handle.describe()).run_id
    for i in range(25):
        await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id=f"t{i}"))
        await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id=f"t{i}"))
    await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="carried"))
    for _ in range(40):
        latest = fleet.client.get_workflow_handle(handle.id)
        if (await latest.describe()).run_id != first_run:
            break
        await asyncio.sleep(0.25)
    latest = fleet.client.get_workflow_handle_for(ServerWorkflow.run, handle.id)
    assert (await latest.describe()).run_id != first_run, "never continued as new"
    for _ in range(40):  # the new run settles the carried task on its first loop
        status = await latest.query(ServerWorkflow.status)
        if status.state == ServerState.EXECUTING:
            break
        await asyncio.sleep(0.25)
    assert status.state == ServerState.EXECUTING
    assert status.active_tasks == ["carried"]
    assert status.instance_id is not None
    assert [e.state for e in status.timeline][:2] == [ServerState.PROVISIONING, ServerState.READY]
    await latest.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="carried"))
    await latest.signal(ServerWorkflow.request_termination, {"reason": "t", "immediately": True})
    result = await latest.result()
    assert result.state == ServerState.TERMINATED
    assert fleet.live_instances() == []


async def test_the_workers_resolved_policy_travels_across_continue_as_new(fleet_factory):  # type: ignore[no-untyped-def]
    fleet: Fleet = await fleet_factory(billing_period_seconds=600, terminate_before_seconds=30)
    inp = ServerInput(name="resolved-once", spec=fleet.spec())  # no policy: the worker's
    handle = await fleet.client.start_workflow(
        ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=fleet.settings.temporal_task_queue
    )
    await wait_until_ready(handle)
    first_run = (await handle.describe()).run_id
    for i in range(30):
        await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id=f"t{i}"))
        await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id=f"t{i}"))
        if (await handle.describe()).run_id != first_run:
            break
    latest = fleet.client.get_workflow_handle_for(ServerWorkflow.run, handle.id)
    assert (await latest.describe()).run_id != first_run, "never continued as new"

    events = (await latest.fetch_history()).events
    started = events[0].workflow_execution_started_event_attributes
    (carried,) = await fleet.client.data_converter.decode(started.input.payloads, [ServerInput])
    assert carried.policy is not None and carried.policy.billing_period_seconds == 600
    assert carried.policy.terminate_before_seconds == 30
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "resolve_policy" not in scheduled, "resolved once, by the first run"
    status = await latest.query(ServerWorkflow.status)
    assert status.billing_period_seconds == 600
    await latest.signal(ServerWorkflow.request_termination, {"reason": "t", "immediately": True})
    assert (await latest.result()).state == ServerState.TERMINATED
