"""What the time-skipping ServerWorkflow tests share: the server input they start,
the workers over in-memory activities, and waits on the skipped clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.lifecycle import ServerState
from core.models import (
    ServerInput,
    ServerPolicy,
    ServerSpec,
    ServerStatus,
)
from tests.workflows.fake_activities import FakeCloud
from workflows.policies import provider_catalog_queue, provider_task_queue
from workflows.server import ServerWorkflow

PERIOD = 3600
MARGIN = 60
SPEC = ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284)


def server_input(name: str, **policy: object) -> ServerInput:
    return ServerInput(
        name=name,
        spec=SPEC,
        policy=ServerPolicy(
            billing_period_seconds=PERIOD,
            terminate_before_seconds=MARGIN,
            ready_poll_seconds=5,
            readiness_timeout_seconds=300,
            **policy,  # type: ignore[arg-type]
        ),
    )


@asynccontextmanager
async def workers(
    env: WorkflowEnvironment, cloud: FakeCloud, extra_activities: Sequence[Callable[..., Any]] = ()
) -> AsyncIterator[str]:
    """A worker on a fresh queue over the fake cloud's store activities (and
    `extra_activities`), one on its Vultr queue over its provider activities and one on
    its Vultr catalog queue over the quote."""
    queue = f"servers-{uuid.uuid4().hex[:8]}"
    async with (
        Worker(
            env.client,
            task_queue=queue,
            workflows=[ServerWorkflow],
            activities=[*cloud.store_activities(), *extra_activities],
            # A bug in workflow code fails the test instead of retrying the task forever.
            workflow_failure_exception_types=[Exception],
        ),
        Worker(
            env.client,
            task_queue=provider_task_queue(queue, "vultr"),
            activities=cloud.provider_activities(),
        ),
        Worker(
            env.client,
            task_queue=provider_catalog_queue(queue, "vultr"),
            activities=cloud.catalog_activities(),
        ),
    ):
        yield queue


async def start(env: WorkflowEnvironment, queue: str, inp: ServerInput) -> WorkflowHandle:
    return await env.client.start_workflow(
        ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=queue
    )


async def wait_for_state(
    env: WorkflowEnvironment, handle: WorkflowHandle, state: ServerState
) -> ServerStatus:
    for _ in range(300):
        status = await handle.query(ServerWorkflow.status)
        if status.state == state:
            return status
        await env.sleep(1)  # skips time so that retries and timers move on
    raise AssertionError(f"never reached {state}; last {status.state}")


def assert_at(actual: datetime | None, expected: datetime) -> None:
    """Timers fire at their time or a few milliseconds after, never before."""
    assert actual is not None
    assert expected <= actual < expected + timedelta(seconds=1), (actual, expected)


def entered(result: ServerStatus, state: ServerState):  # type: ignore[no-untyped-def]
    return [entry.at for entry in result.timeline if entry.state == state]
