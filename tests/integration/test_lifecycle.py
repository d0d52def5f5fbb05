"""Whole lifecycles through the dev server, embedded MongoDB and the emulator."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from core.lifecycle import ServerState
from core.models import TaskSignal
from tests.integration.support import MARGIN, PERIOD, Fleet
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


async def test_parallel_idle_servers_are_deleted_before_their_first_boundary(fleet: Fleet):
    handles = [await fleet.start(f"par-{i}") for i in range(3)]
    results = await asyncio.gather(*(h.result() for h in handles))
    assert {r.state for r in results} == {ServerState.TERMINATED}
    ledger = fleet.ledger()
    assert len(ledger) == 3
    for row in ledger:
        assert row["units"] == 1, row
        lived = (_parse(row["deleted_at"]) - _parse(row["created_at"])).total_seconds()
        assert PERIOD - MARGIN - 1 <= lived < PERIOD, row
    assert fleet.live_instances() == []
    assert sum(r.billed_hours for r in results) == sum(row["units"] for row in ledger)


async def test_a_busy_server_is_billed_exactly_the_hours_it_was_needed(fleet: Fleet):
    handle = await fleet.start("busy-two-hours")
    await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="job"))
    await asyncio.sleep(PERIOD + 2)  # past the first deadline while busy
    assert len(fleet.live_instances()) == 1
    await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="job"))
    result = await handle.result()
    (row,) = fleet.ledger()
    assert row["units"] == 2
    assert result.billed_hours == 2
    assert fleet.live_instances() == []


async def test_the_quota_caps_live_servers(fleet_factory):
    fleet: Fleet = await fleet_factory(max_servers=2)
    handles = [await fleet.start(f"quota-{i}") for i in range(3)]
    await asyncio.gather(*(h.result() for h in handles))
    spans = sorted((_parse(r["created_at"]), _parse(r["deleted_at"])) for r in fleet.ledger())
    assert len(spans) == 3
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    live = peak = 0
    for _, step in events:
        live += step
        peak = max(peak, live)
    assert peak <= 2


async def test_read_model_shows_the_final_state(fleet: Fleet):
    handle = await fleet.start("recorded")
    await handle.result()
    docs = await fleet.db["servers"].find({"name": "recorded"}).to_list()
    assert len(docs) == 1
    assert docs[0]["state"] == "TERMINATED"
    assert docs[0]["billed_hours"] == 1


async def test_the_cost_report_equals_the_emulator_ledger(fleet: Fleet):
    from datetime import timedelta

    from client.reports import load_cost_report

    idle = await fleet.start("cost-idle")
    busy = await fleet.start("cost-busy")
    await busy.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="j"))
    await asyncio.sleep(PERIOD + 2)
    await busy.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="j"))
    await asyncio.gather(idle.result(), busy.result())
    report = await load_cost_report(fleet.db, timedelta(seconds=PERIOD))
    by_instance = {row["instance_id"]: row for row in fleet.ledger()}
    statuses = {s.name: s for s in [await idle.result(), await busy.result()]}
    assert {line.name for line in report.servers} == {"cost-idle", "cost-busy"}
    for line in report.servers:
        row = by_instance[statuses[line.name].instance_id]
        assert line.billed_hours == row["units"]
        assert abs(line.cost - row["total"]) < 1e-9
    assert report.billed_hours == sum(r["units"] for r in by_instance.values()) == 3
    assert abs(report.cost - sum(r["total"] for r in by_instance.values())) < 1e-9
