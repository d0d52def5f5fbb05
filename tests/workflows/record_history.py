"""Record ServerWorkflow histories for the replay tests (tests/workflows/histories).

    .venv/bin/python -m tests.workflows.record_history

Each scenario runs on the time-skipping test server with the in-memory activities and
writes `<scenario>.json`. Record again before a change that alters the commands a
running server issues, so that the replay test proves the change is patched.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.lifecycle import ServerState
from core.models import ClaimRequest, TaskSignal, TerminationRequest
from tests.support.temporal import _binary, register_search_attributes
from tests.workflows.fake_activities import FakeCloud
from tests.workflows.support import server_input, start, wait_for_state, workers
from workflows.server import ServerWorkflow

HISTORIES = Path(__file__).parent / "histories"
Scenario = Callable[[WorkflowEnvironment, WorkflowHandle], Awaitable[None]]


async def busy_and_idle_by_updates_and_signals(env: WorkflowEnvironment, handle) -> None:
    """Tasks start and end by update, by signal and by claim; then a termination at the
    deadline is requested while idle."""
    task = TaskSignal
    await handle.execute_update(ServerWorkflow.start_task, task(task_id="job-1"))
    await env.sleep(30)
    await handle.execute_update(ServerWorkflow.finish_task, task(task_id="job-1"))
    await handle.signal(ServerWorkflow.mark_busy, task(task_id="job-2"))
    await env.sleep(20)
    await handle.signal(ServerWorkflow.mark_idle, task(task_id="job-2"))
    await env.sleep(5)
    await handle.execute_update(ServerWorkflow.claim, ClaimRequest(task_id="job-3"))
    await handle.execute_update(ServerWorkflow.start_task, task(task_id="job-4"))
    await handle.execute_update(ServerWorkflow.finish_task, task(task_id="job-3"))
    await handle.execute_update(ServerWorkflow.finish_task, task(task_id="job-4"))
    await handle.execute_update(
        ServerWorkflow.terminate, TerminationRequest(reason="recorded: at the deadline")
    )


async def terminated_now_while_busy(env: WorkflowEnvironment, handle) -> None:
    await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id="job-1"))
    await env.sleep(60)
    await handle.execute_update(
        ServerWorkflow.terminate, TerminationRequest(reason="recorded: now", immediately=True)
    )


SCENARIOS: dict[str, Scenario] = {
    "busy_and_idle_by_updates_and_signals": busy_and_idle_by_updates_and_signals,
    "terminated_now_while_busy": terminated_now_while_busy,
}


async def record(name: str, scenario: Scenario) -> Path:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client)
        cloud = FakeCloud(env)
        async with workers(env, cloud) as queue:
            handle = await start(
                env, queue, server_input("recorded-" + name.replace("_", "-")[:39])
            )
            await wait_for_state(env, handle, ServerState.READY)
            await scenario(env, handle)
            await handle.result()
        history = await handle.fetch_history()
    finally:
        await env.shutdown()
    path = HISTORIES / f"{name}.json"
    path.write_text(history.to_json())
    return path


async def main(names: list[str]) -> None:
    for name in names or list(SCENARIOS):
        if name not in SCENARIOS:
            raise SystemExit(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        print(f"recorded {await record(name, SCENARIOS[name])}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
