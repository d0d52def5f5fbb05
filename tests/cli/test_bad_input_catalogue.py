"""A catalogue of inputs and situations that once ended in a traceback, a hang or a
misleading line: each now ends with one clear line, its exit code, within a bound, and
changes nothing. Also what `status` shows and what `terminate` selects."""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.service import RPCError

from client.errors import ServerNotFound
from client.fleet import ServerFleet
from core.lifecycle import ServerState
from core.models import TaskSignal
from tests.cli.support import Cli, CliResult, Fleet, assert_never_started, one_error_line, unique
from tests.support.mongo import RestartableMongo
from tests.support.waits import wait_until
from workflows.pool import WarmPoolWorkflow
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

# Every refusal here is decided before or at the first request; MongoDB cases wait for
# the documented 5 s server selection.
QUICK = 10.0
MONGO_BOUND = 15.0
REPO_ROOT = Path(__file__).resolve().parents[2]


async def timed(cli: Cli, *args: str, bound: float = QUICK, **env: str) -> CliResult:
    """Run the CLI; fail the test (not hang it) when it takes longer than `bound`."""
    started = time.monotonic()
    result = await asyncio.wait_for(cli(*args, **env), timeout=bound + 20)
    elapsed = time.monotonic() - started
    assert elapsed < bound, f"{args[0]} took {elapsed:.1f} s"
    return result


def refused(result: CliResult, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    return one_error_line(result)


async def _rejected(server_fleet: ServerFleet, name: str) -> bool:
    return bool((await server_fleet.status(name)).rejected)


async def listed(server_fleet: ServerFleet, name: str) -> None:
    """Once the read model, which trails the workflow by a moment, lists `name`."""

    async def seen() -> bool:
        return any(s.name == name for s in await server_fleet.list())

    await wait_until(seen, within=5, interval=0.1, what=f"{name} listed")


def pool_name() -> str:
    return f"p-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def pools(fleet: Fleet) -> AsyncIterator[list[str]]:
    """Pools a test starts; their workflows are terminated afterwards."""
    started: list[str] = []
    yield started
    for pool in started:
        try:
            await fleet.client.get_workflow_handle(f"pool-{pool}").terminate("test over")
        except RPCError:
            pass


# ------------------------------------------------------------------ B1: pools


async def test_starting_a_running_pool_again_says_so_and_keeps_its_size(
    cli: Cli, fleet: Fleet, pools: list[str]
):
    pool = pool_name()
    pools.append(pool)
    assert (await cli("pool", "start", pool, "--min-idle", "0")).exit_code == 0
    handle = fleet.client.get_workflow_handle_for(WarmPoolWorkflow.run, f"pool-{pool}")
    run_before = (await handle.describe()).run_id

    again = await timed(cli, "pool", "start", pool, "--min-idle", "2")

    message = refused(again, 1)
    assert message.startswith(f"pool {pool} is already running; change its size with `pool set")
    assert (await handle.describe()).run_id == run_before
    assert await handle.query(WarmPoolWorkflow.target) == 0


async def test_setting_a_pool_that_does_not_run_says_there_is_none(cli: Cli, fleet: Fleet):
    pool = pool_name()

    result = await timed(cli, "pool", "set", pool, "--min-idle", "4")

    assert refused(result, 1) == (
        f"no running pool named {pool}; start it with `pool start {pool}`"
    )
    assert fleet.ledger() == []


async def test_a_pool_started_outside_its_hours_says_when_it_fills(
    cli: Cli, fleet: Fleet, pools: list[str]
):
    now = datetime.now(UTC)
    if now.minute == 59:  # the window below must not open during the test
        await asyncio.sleep(61 - now.second)
        now = datetime.now(UTC)
    start = (now.hour + 2) % 24
    end = (now.hour + 3) % 24 or 24
    opens = now.replace(hour=start, minute=0, second=0, microsecond=0)
    if opens <= now:
        opens += timedelta(days=1)
    pool = pool_name()
    pools.append(pool)

    result = await timed(cli, "pool", "start", pool, "--min-idle", "2", "--hours", f"{start}-{end}")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        f"pool {pool} started; outside its hours {start}-{end} UTC it keeps none: "
        f"2 server(s) from {opens:%Y-%m-%d %H:%M:%S} UTC"
    )
    handle = fleet.client.get_workflow_handle_for(WarmPoolWorkflow.run, f"pool-{pool}")
    assert await handle.query(WarmPoolWorkflow.target) == 0


# ------------------------------------------------------------------ B1: task ids, reasons

LONG_TASK = "t" * 5000
LONG_REASON = "r" * 3000


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("busy", "{name}", "--task", ""), "task_id: String should have at least 1 character"),
        (("idle", "{name}", "--task", ""), "task_id: String should have at least 1 character"),
        (("busy", "{name}", "--task", LONG_TASK), "task_id: String should have at most 200"),
        (("terminate", "{name}", "--reason", LONG_REASON), "reason: String should have at most"),
        (("terminate", "{name}", "--now", "--reason", LONG_REASON), "reason: String should"),
    ],
    ids=["busy-empty", "idle-empty", "busy-5000", "terminate-reason", "terminate-now-reason"],
)
async def test_an_invalid_task_id_or_reason_is_refused_and_changes_nothing(
    cli: Cli, server_fleet: ServerFleet, args: tuple[str, ...], problem: str
):
    name = unique("val")
    assert (await cli("provision", name)).exit_code == 0

    result = await timed(cli, *(a.format(name=name) for a in args))

    message = refused(result, 2)
    assert message.startswith(f"invalid request for server {name}: {problem}"), message
    assert message.endswith("nothing changed")
    after = await server_fleet.status(name)
    assert after.active_tasks == []
    assert after.rejected == []
    assert after.state in (ServerState.PROVISIONING, ServerState.READY)
    assert all("terminat" not in e.reason for e in after.timeline)


async def test_a_claim_with_an_empty_task_id_is_refused_before_anything_starts(
    cli: Cli, fleet: Fleet
):
    result = await timed(cli, "claim", "--task", "")

    message = refused(result, 2)
    assert message.startswith("invalid request for a claim by task '': task_id: String should")
    assert fleet.ledger() == []
    assert await fleet.db["servers"].count_documents({}) == 0


# ------------------------------------------------------------------ B1: MongoDB frozen


@pytest.fixture
def frozen_mongo(restartable_mongo: RestartableMongo) -> Iterator[str]:
    """A MongoDB that accepts connections and never answers (SIGSTOP); its URI."""
    proc = restartable_mongo._proc
    assert proc is not None and proc.pid is not None
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield restartable_mongo.uri
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        restartable_mongo.kill()  # nothing to keep: no graceful shutdown to wait for


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("claim", "--task", "m2"), "claim a server"),
        (("cost",), "load the cost report"),
        (("reconcile",), "reconcile"),
        (("heartbeat", "web-1", "--task", "m2"), "look up the claims on web-1"),
        (("list",), "list servers"),
    ],
    ids=["claim", "cost", "reconcile", "heartbeat", "list"],
)
async def test_a_mongodb_that_does_not_answer_ends_the_command_in_bounded_time(
    cli: Cli, fleet: Fleet, frozen_mongo: str, args: tuple[str, ...], what: str
):
    result = await timed(cli, *args, bound=MONGO_BOUND, MONGO_URI=frozen_mongo)

    message = refused(result, 1)
    assert message.startswith(f"cannot {what}: MongoDB at MONGO_URI"), message
    assert "did not answer within 5 s" in message
    assert "Topology" not in message
    assert fleet.ledger() == []
    started = [
        w.id
        async for w in fleet.client.list_workflows(
            f"TaskQueue = '{fleet.settings.temporal_task_queue}'"
        )
    ]
    assert started == []


# ------------------------------------------------------------------ B1: cloud-init


async def test_a_cloud_init_fifo_is_refused_without_reading_it(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet, tmp_path: Path
):
    fifo = tmp_path / "user-data"
    os.mkfifo(fifo)
    name = unique("fifo")

    result = await timed(cli, "provision", name, "--cloud-init", str(fifo))

    assert refused(result, 2) == (
        f"cloud-init file {fifo} is not a regular file (a pipe or device); give a script file"
    )
    await assert_never_started(server_fleet, fleet, name)


# ------------------------------------------------------------------ B2: status


async def test_status_shows_running_tasks_timeline_and_refused_signals(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet
):
    name = unique("seen")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0
    assert (await cli("busy", name, "--task", "job-1")).exit_code == 0
    handle = fleet.client.get_workflow_handle_for(ServerWorkflow.run, f"server-{name}")
    await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="job-x"))
    await wait_until(
        lambda: _rejected(server_fleet, name), within=5, interval=0.1, what="the rejection"
    )

    shown = (await cli("status", name, "--json")).json()
    table = await cli("status", name)

    assert shown["active_tasks"] == ["job-1"]
    assert shown["error"] is None
    assert [e["state"] for e in shown["timeline"]] == ["PROVISIONING", "READY", "EXECUTING"]
    (rejected,) = shown["rejected"]
    assert "job-x" in rejected
    assert table.exit_code == 0
    assert "rejected" in table.stdout
    assert "job-x" in table.stdout


async def test_heartbeat_for_an_unknown_server_says_there_is_none(cli: Cli, fleet: Fleet):
    name = unique("nosuch")

    result = await timed(cli, "heartbeat", name, "--task", "t")

    assert refused(result, 1).startswith(f"no server named {name}")
    assert fleet.ledger() == []


# ------------------------------------------------------------------ B3


async def test_a_batch_with_taken_names_starts_none_and_lists_them(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet
):
    prefix = unique("runner")
    assert (await cli("provision", prefix, "--count", "3")).exit_code == 0

    result = await timed(cli, "provision", prefix, "--count", "4")

    taken = ", ".join(f"{prefix}-{i}" for i in (1, 2, 3))
    assert refused(result, 2) == (
        f"3 of 4 name(s) already in use, nothing started: {taken}; "
        "choose another prefix, pass --skip-existing, or terminate those first"
    )
    with pytest.raises(ServerNotFound):
        await server_fleet.status(f"{prefix}-4")


async def test_a_batch_with_skip_existing_starts_only_the_free_names(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet
):
    prefix = unique("runner")
    assert (await cli("provision", prefix, "--count", "2")).exit_code == 0
    first = fleet.client.get_workflow_handle(f"server-{prefix}-1")
    run_before = (await first.describe()).run_id

    result = await timed(cli, "provision", prefix, "--count", "3", "--skip-existing")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"skipped {prefix}-1: already running",
        f"skipped {prefix}-2: already running",
        f"started {prefix}-3 (workflow server-{prefix}-3)",
    ]
    assert (await first.describe()).run_id == run_before
    assert (await server_fleet.status(f"{prefix}-3")).name == f"{prefix}-3"


@pytest.mark.parametrize("command", [("claim",), ("heartbeat", "web-1")])
async def test_a_claim_ttl_over_a_day_is_refused_and_the_bound_is_in_help(
    cli: Cli, fleet: Fleet, command: tuple[str, ...]
):
    result = await timed(cli, *command, "--task", "t", "--ttl", "99999999999")
    helped = await cli(*command, "--help")

    assert result.exit_code == 2
    assert "Invalid value for '--ttl'" in result.stderr
    assert "less than or equal to 86400" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "5 to 86400 (a day)" in " ".join(helped.stdout.split())
    assert fleet.ledger() == []


async def test_busy_and_idle_have_their_own_help(cli: Cli):
    busy = await cli("busy", "--help")
    idle = await cli("idle", "--help")

    assert busy.exit_code == idle.exit_code == 0
    assert "A job starts on the server" in busy.stdout
    assert "A job has finished on the server" in idle.stdout
    assert "A job starts" not in idle.stdout
    assert "as given to `busy`" in idle.stdout


# ------------------------------------------------------------------ B3: terminate selection


async def test_terminate_by_tag_ends_only_the_matching_servers(cli: Cli, server_fleet: ServerFleet):
    tag = f"batch-{uuid.uuid4().hex[:6]}"
    tagged = unique("tagged")
    other = unique("other")
    assert (await cli("provision", tagged, "--count", "2", "--tag", tag)).exit_code == 0
    assert (await cli("provision", other)).exit_code == 0
    for name in (f"{tagged}-1", f"{tagged}-2", other):
        await server_fleet.wait_for_state(name, {ServerState.READY}, timeout=30)

    result = await timed(cli, "terminate", "--tag", tag, "--now", "--yes")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "termination requested for 2 of 2 server(s); deleting them now"
    for name in (f"{tagged}-1", f"{tagged}-2"):
        await server_fleet.wait_for_state(name, {ServerState.TERMINATED}, timeout=30)
    assert (await server_fleet.status(other)).state == ServerState.READY


async def test_terminate_by_selector_without_a_terminal_or_yes_is_refused(
    cli: Cli, server_fleet: ServerFleet
):
    name = unique("keep")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0
    await server_fleet.wait_for_state(name, {ServerState.READY}, timeout=30)
    await listed(server_fleet, name)

    result = await timed(cli, "terminate", "--all")

    message = refused(result, 2)
    assert message.startswith("refusing to terminate ")
    assert message.endswith("without confirmation: stdin is not a terminal; pass --yes")
    after = await server_fleet.status(name)
    assert after.state == ServerState.READY
    assert all("terminat" not in e.reason for e in after.timeline)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ((), "give a server NAME, or select servers with --all, --state, --tag or --pool"),
        (("web-1", "--all"), "give NAME or a selector (--all, --state, --tag, --pool), not both"),
    ],
    ids=["neither", "both"],
)
async def test_terminate_needs_exactly_one_of_name_or_selector(
    cli: Cli, fleet: Fleet, args: tuple[str, ...], problem: str
):
    result = await timed(cli, "terminate", *args)

    assert refused(result, 2) == problem
    assert fleet.ledger() == []


async def test_terminate_by_selector_on_a_terminal_asks_and_no_keeps_the_servers(
    cli: Cli, server_fleet: ServerFleet
):
    name = unique("asked")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0
    await listed(server_fleet, name)
    controller, terminal = pty.openpty()
    os.write(controller, b"n\n")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "starter.py",
            "terminate",
            "--all",
            stdin=terminal,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **cli.env},
            cwd=REPO_ROOT,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=QUICK + 20)
    finally:
        os.close(terminal)
        os.close(controller)

    assert proc.returncode == 2, err
    assert f"terminate 1 server(s): {name}? [y/N]" in err.decode()
    assert err.decode().strip().endswith("error: nothing terminated")
    assert "Traceback" not in out.decode() + err.decode()
    after = await server_fleet.status(name)
    assert after.state == ServerState.READY
    assert all("terminat" not in e.reason for e in after.timeline)
