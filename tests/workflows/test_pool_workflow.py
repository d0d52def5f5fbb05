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
from tests.support.waits import wait_until
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


async def test_members_start_with_the_options_of_every_server_start(
    temporal_env: WorkflowEnvironment,
):
    """A member is found by name, provider and state from its first moment, as a server
    started from the CLI is (the dev server: the time-skipping one drops the attributes)."""
    env = temporal_env
    queue = f"pool-{uuid.uuid4().hex[:8]}"
    spec = ServerSpec(provider="hetzner", region="fsn1", plan="cx22", image="ubuntu-24.04")
    inp = PoolInput(pool="warm", spec=spec, min_idle=1, check_every_seconds=1)
    async with Worker(
        env.client, task_queue=queue, workflows=[WarmPoolWorkflow], activities=[empty_census]
    ):
        handle = await env.client.start_workflow(
            WarmPoolWorkflow.run, inp, id=f"pool-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        children = await wait_until(
            lambda: started_children(env, handle.id), within=30, what="a member started"
        )
        await handle.terminate()
    member = env.client.get_workflow_handle(children[0])
    described = await member.describe()
    await member.terminate()
    attributes = {pair.key.name: pair.value for pair in described.typed_search_attributes}
    assert attributes == {
        "ServerName": children[0].removeprefix("server-"),
        "Provider": "hetzner",
        "Region": "fsn1",
        "Plan": "cx22",
        "ServerState": "PROVISIONING",
    }
    assert await described.static_summary() == f"warm pool warm member: {attributes['ServerName']}"
