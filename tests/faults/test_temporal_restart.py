"""The Temporal dev server, persisting to SQLite, is stopped and restarted on the same
port while servers idle on their billing timers: the workflows resume and delete
their instances on time, as judged by the emulator's ledger.

Size: 4 servers per case on an emulator with a 40 s billing period and 1 s boot, with a
10 s margin (20 s when a deadline falls inside the outage); the project's workers run
in this process. About 80 s for both cases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from core.lifecycle import ServerState
from devstack.components import temporal_process
from devstack.procs import ManagedProcess, free_port
from tests.faults.support import explain_unfinished, fleet_in_process, ledger
from tests.integration.support import Fleet, wait_until_ready
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD, MARGIN, BOOT = 40, 10, 1
EMULATOR_SEED = 41
SERVERS = 4
ON_TIME = timedelta(seconds=3)  # a delete takes one request; the rest is scheduling slack
# After a restart the workers' pollers reconnect with backoff before the overdue timers'
# workflow tasks run; the overdue case gives the margin room for that.
OVERDUE_MARGIN = 20
RESUMED_WITHIN = 10.0


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[ManagedProcess]:
    """A dev server on a fixed port with its state in a SQLite file, so it can be
    stopped and started again with every workflow and timer intact."""
    server = temporal_process(
        free_port(),
        0,
        tmp_path / "temporal.log",
        db_filename=tmp_path / "temporal.db",
        headless=True,
    )
    server.start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def fleet(
    dev_server: ManagedProcess, module_emulator: RunningEmulator, mongo_uri: str
) -> AsyncIterator[Fleet]:
    port = dev_server.argv[dev_server.argv.index("--port") + 1]
    client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
    module_emulator.reset()
    async with fleet_in_process(
        client,
        module_emulator,
        mongo_uri,
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
    ) as running:
        yield running


async def start_idle_servers(
    fleet: Fleet, prefix: str, margin: int = MARGIN
) -> list[WorkflowHandle[Any, Any]]:
    handles = [
        await fleet.start(
            f"{prefix}-{i}", billing_period_seconds=PERIOD, terminate_before_seconds=margin
        )
        for i in range(SERVERS)
    ]
    for handle in handles:
        await wait_until_ready(handle, within=20)
    return handles


async def restart(dev_server: ManagedProcess, down_for: float) -> float:
    """Stop, wait, start again; returns the wall-clock time it answered again."""
    await asyncio.to_thread(dev_server.stop)
    await asyncio.sleep(down_for)
    await asyncio.to_thread(dev_server.start, 60)
    return time.time()


async def results(handles: list[WorkflowHandle[Any, Any]]) -> list[Any]:
    try:
        return await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
    except TimeoutError:
        raise AssertionError("not finished:\n" + await explain_unfinished(handles)) from None


def lateness(row: dict[str, Any]) -> timedelta:
    created = datetime.fromisoformat(row["created_at"])
    deadline = created + timedelta(seconds=PERIOD - MARGIN)
    return datetime.fromisoformat(row["deleted_at"]) - deadline


async def test_timers_set_before_a_restart_fire_on_time_after_it(
    fleet: Fleet, dev_server: ManagedProcess
) -> None:
    handles = await start_idle_servers(fleet, "sleeper")

    back_at = await restart(dev_server, down_for=8)
    done = await results(handles)

    verdict = ledger(fleet.emulator, {h.id: 1 for h in handles})
    late = {row["label"]: lateness(row).total_seconds() for row in verdict.rows}
    print(f"\ntemporal restart: runs={len(done)} delete after deadline (s): {late}")
    assert {r.state for r in done} == {ServerState.TERMINATED}
    for row in verdict.rows:
        deadline = datetime.fromisoformat(row["created_at"]) + timedelta(seconds=PERIOD - MARGIN)
        assert deadline.timestamp() > back_at, "the deadline must fall after the restart"
        assert timedelta(0) <= lateness(row) <= ON_TIME, row
    assert verdict.extra_hours == {} and verdict.leftovers == [], verdict.summary()


async def test_a_timer_due_while_the_server_is_down_fires_once_it_is_back(
    fleet: Fleet, dev_server: ManagedProcess
) -> None:
    handles = await start_idle_servers(fleet, "overdue", OVERDUE_MARGIN)
    rows = ledger(fleet.emulator).rows
    first_deadline = min(datetime.fromisoformat(r["created_at"]) for r in rows) + timedelta(
        seconds=PERIOD - OVERDUE_MARGIN
    )
    await asyncio.sleep(max(0.0, (first_deadline - datetime.now(UTC)).total_seconds() - 3))

    back_at = await restart(dev_server, down_for=5)
    done = await results(handles)

    verdict = ledger(fleet.emulator, {h.id: 1 for h in handles})
    after_restart = {
        r["label"]: datetime.fromisoformat(r["deleted_at"]).timestamp() - back_at
        for r in verdict.rows
    }
    print(
        f"\ntemporal restart (overdue): runs={len(done)} deleted after restart (s): {after_restart}"
    )
    assert {r.state for r in done} == {ServerState.TERMINATED}
    assert first_deadline.timestamp() < back_at, "a deadline must fall inside the outage"
    # back_at is when this test saw the server answer; the worker may reconnect first.
    assert all(-1.0 <= s <= RESUMED_WITHIN for s in after_restart.values()), after_restart
    assert verdict.extra_hours == {} and verdict.leftovers == [], verdict.summary()
