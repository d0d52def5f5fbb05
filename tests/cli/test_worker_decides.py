"""A second, plain shell (no VULTR_API_KEY, no billing settings) drives a stack whose
worker has its own billing period: the worker's settings decide the policy, the worker
checks the spec, and what the CLI shows follows what the server will do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from client.fleet import ServerFleet
from core.lifecycle import ServerState
from core.models import ServerInput, workflow_id_for
from tests.cli.support import Cli, CliResult, Fleet, cli_env, unique
from workflows.search_attributes import TERMINATE_AT_KEY
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

WORKER_PERIOD = 300
WORKER_MARGIN = 30
# What a plain shell lacks: it has the defaults (3600 s period, real Vultr, no key).
PLAIN_SHELL = {
    "VULTR_API_KEY": None,
    "VULTR_API_URL": None,
    "BILLING_PERIOD_SECONDS": None,
    "TERMINATE_BEFORE_SECONDS": None,
}


@pytest.fixture
async def worker_fleet(fleet_factory) -> Fleet:  # type: ignore[no-untyped-def]
    return await fleet_factory(
        billing_period_seconds=WORKER_PERIOD, terminate_before_seconds=WORKER_MARGIN
    )


@pytest.fixture
async def shell(worker_fleet: Fleet) -> AsyncIterator[Cli]:
    runner = Cli({**cli_env(worker_fleet), **PLAIN_SHELL})  # type: ignore[dict-item]
    yield runner
    for name in runner.started:
        try:
            await worker_fleet.client.get_workflow_handle(workflow_id_for(name)).terminate("over")
        except (RPCError, ValueError):
            pass


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def one_error_line(result: CliResult) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


async def workflow_exists(fleet: Fleet, name: str) -> bool:
    try:
        await fleet.client.get_workflow_handle(workflow_id_for(name)).describe()
    except RPCError:
        return False
    return True


async def test_a_plain_shell_provisions_by_the_workers_billing_period(
    shell: Cli, worker_fleet: Fleet
):
    name = unique("web")
    made = await shell("provision", name, "--wait", "ready", "--json")
    assert made.exit_code == 0, made.stderr

    shown = (await shell("status", name, "--json")).json()
    start = at(shown["billing_start"])
    assert at(shown["next_boundary"]) == start + timedelta(seconds=WORKER_PERIOD)
    assert at(shown["terminate_at"]) == start + timedelta(seconds=WORKER_PERIOD - WORKER_MARGIN)
    # The shell sent no policy at all: the worker resolved it.
    generation = (
        await ServerFleet(worker_fleet.client, worker_fleet.settings).status(name)
    ).generation
    first = worker_fleet.client.get_workflow_handle(workflow_id_for(name), run_id=generation)
    started = (await first.fetch_history()).events[0].workflow_execution_started_event_attributes
    (inp,) = await worker_fleet.client.data_converter.decode(started.input.payloads, [ServerInput])
    assert inp.policy is None

    # The cost report prices the server by its own period, whatever the shell says.
    for period in (None, "120"):
        got = await shell("cost", "--json", BILLING_PERIOD_SECONDS=period)  # type: ignore[arg-type]
        assert got.exit_code == 0, got.stderr
        report = got.json()
        (line,) = [s for s in report["servers"] if s["name"] == name]
        assert line["period_seconds"] == WORKER_PERIOD
        assert line["billed_hours"] == 1
        assert report["period_seconds"] == WORKER_PERIOD


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--region", "xxx", "unknown region 'xxx' (known: "),
        ("--plan", "vc2-99c", "unknown plan 'vc2-99c' (known: "),
        ("--os-id", "99999", "unknown os_id 99999 (known: "),
    ],
)
async def test_a_plain_shell_has_an_unknown_region_plan_or_os_refused(
    shell: Cli, worker_fleet: Fleet, option: str, value: str, problem: str
):
    name = unique("bad")
    refused = await shell("provision", name, option, value)

    assert refused.exit_code == 2
    assert problem in one_error_line(refused)
    assert not await workflow_exists(worker_fleet, name)
    assert worker_fleet.ledger() == []


async def test_claim_in_an_unknown_region_is_refused_and_leaves_no_server(
    shell: Cli, worker_fleet: Fleet
):
    refused = await shell("claim", "--task", "job-x", "--region", "xxx", "--ttl", "30")

    assert refused.exit_code == 2
    assert "unknown region 'xxx' (known: " in one_error_line(refused)
    query = (
        f'TaskQueue="{worker_fleet.settings.temporal_task_queue}" AND WorkflowType="ServerWorkflow"'
    )
    assert [w async for w in worker_fleet.client.list_workflows(query)] == []
    assert await worker_fleet.db["servers"].count_documents({}) == 0
    assert worker_fleet.ledger() == []


async def test_max_idle_announces_when_the_idle_server_really_goes(
    shell: Cli, worker_fleet: Fleet, server_fleet_of_worker: ServerFleet
):
    name = unique("mi")
    made = await shell("provision", name, "--max-idle", "20", "--wait", "ready")
    assert made.exit_code == 0, made.stderr

    status = await server_fleet_of_worker.status(name)
    (ready_at,) = [e.at for e in status.timeline if e.state == ServerState.READY]
    assert status.terminate_at == ready_at + timedelta(seconds=20)
    assert f"deleted at {status.terminate_at:%Y-%m-%d %H:%M:%S} UTC unless busy" in made.stdout
    described = await worker_fleet.client.get_workflow_handle(workflow_id_for(name)).describe()
    assert described.typed_search_attributes.get(TERMINATE_AT_KEY) == status.terminate_at


async def test_keep_idle_announces_no_deletion_time(shell: Cli):
    name = unique("ki")
    made = await shell("provision", name, "--keep-idle", "--wait", "ready")
    assert made.exit_code == 0, made.stderr
    assert "kept while idle until terminated" in made.stdout
    assert (await shell("status", name, "--json")).json()["terminate_at"] is None


async def test_pending_termination_and_its_reason_show_before_deletion(shell: Cli):
    name = unique("t")
    assert (await shell("provision", name, "--wait", "ready")).exit_code == 0
    assert (await shell("busy", name, "--task", "job-1")).exit_code == 0

    asked = await shell("terminate", name, "--reason", "nightly cleanup", "--json")
    assert asked.exit_code == 0, asked.stderr
    shown = (await shell("status", name, "--json")).json()
    table = (await shell("status", name)).stdout

    for answer in (asked.json(), shown):
        assert answer["state"] == "EXECUTING"
        assert answer["termination"] == {"reason": "nightly cleanup", "immediately": False}
    assert "pending at" in table and "nightly cleanup" in table


async def test_terminate_now_answers_with_the_termination_under_way(shell: Cli):
    name = unique("q")
    assert (await shell("provision", name, "--wait", "ready")).exit_code == 0
    assert (await shell("busy", name, "--task", "job-1")).exit_code == 0

    gone = await shell("terminate", name, "--now", "--json")

    assert gone.exit_code == 0, gone.stderr
    assert gone.json()["state"] in ("TERMINATING", "TERMINATED")


async def test_a_server_ending_in_error_is_a_failed_run_and_status_still_answers(
    shell: Cli, worker_fleet: Fleet
):
    name = unique("err")
    # Started around the CLI's check, as an old client or a bug would.
    inp = ServerInput(name=name, spec=worker_fleet.spec(region="xyz"))
    handle = await worker_fleet.client.start_workflow(
        ServerWorkflow.run,
        inp,
        id=inp.workflow_id,
        task_queue=worker_fleet.settings.temporal_task_queue,
    )
    shell.started.add(name)
    for _ in range(100):
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            break
        await asyncio.sleep(0.1)
    assert description.status == WorkflowExecutionStatus.FAILED

    failed = [
        w.id
        async for w in worker_fleet.client.list_workflows(
            f'WorkflowId="{inp.workflow_id}" AND ExecutionStatus="Failed"'
        )
    ]
    assert failed == [inp.workflow_id]
    shown = await shell("status", name, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["state"] == "ERROR"
    table = (await shell("status", name)).stdout
    assert "unknown region 'xyz'" in table


@pytest.fixture
def server_fleet_of_worker(worker_fleet: Fleet) -> ServerFleet:
    return ServerFleet(worker_fleet.client, worker_fleet.settings, worker_fleet.db)
