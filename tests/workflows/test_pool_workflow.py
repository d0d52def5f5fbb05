"""The warm pool's bookkeeping of members it started but cannot see yet."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.pools import PoolCensus, PoolCensusInput
from core.models import ServerSpec
from workflows.pool import PoolInput, WarmPoolWorkflow


@activity.defn(name="pool_census")
async def empty_census(request: PoolCensusInput) -> PoolCensus:
    """The read model has not caught up: no member is visible yet."""
    return PoolCensus(available=0, provisioning=0, busy=0, members=[])


async def started_children(env: WorkflowEnvironment, workflow_id: str) -> list[str]:
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in history.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]


@pytest.mark.parametrize("pending", [0, 1])
async def test_members_pending_from_a_previous_run_are_not_started_again(
    time_skipping_env: WorkflowEnvironment, pending: int
):
    env = time_skipping_env
    queue = f"pool-{uuid.uuid4().hex[:8]}"
    now = await env.get_current_time()
    # What a run hands to its continued-as-new successor.
    carried = {f"server-warm-old{i}": now for i in range(pending)}
    inp = PoolInput(
        pool="warm",
        spec=ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284),
        min_idle=2,
        check_every_seconds=1,
        pending=carried,
    )
    # Only the pool runs here: its children are started but never picked up.
    async with Worker(
        env.client, task_queue=queue, workflows=[WarmPoolWorkflow], activities=[empty_census]
    ):
        handle = await env.client.start_workflow(
            WarmPoolWorkflow.run, inp, id=f"pool-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        await env.sleep(timedelta(seconds=10))  # ten checks
        children = await started_children(env, handle.id)
        await handle.terminate()
    assert len(children) == 2 - pending
