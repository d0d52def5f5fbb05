"""Lifecycles against a misbehaving Vultr: 10 % of all requests fail with 5xx, every
6 s a 2 s burst of 429 with Retry-After 2, every DELETE takes 2 s, 30 % of create
responses are dropped after the instance was made, and 20 % of deletes answer 500
"server is currently locked".

Size: 24 servers in parallel on an emulator with a 40 s billing period and 2 s boot,
20 s margin (room for a few failed 2 s DELETEs and their retries): 20 idle at their
first deadline (1 billed hour each) and 4 busy across one boundary (2 each). About 75 s.
Then one server whose deletes are refused as "locked" four times in a row: about 50 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.lifecycle import ServerState
from core.models import ServerInput, TaskSignal
from tests.faults.support import (
    explain_extra_hours,
    explain_unfinished,
    fleet_in_process,
    ledger,
)
from tests.integration.support import Fleet
from tests.support.emulator import RunningEmulator
from workflows.reconcile import ReconcileInput, ReconcileWorkflow
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IDLE, BUSY = 20, 4
PERIOD = 40
BOOT = 2
EMULATOR_SEED = 23
MARGIN = 20
EXTRA_HOURS_BOUND = 3  # target 0; observed 0-2 per run, printed either way
BURST = {"route": "*", "status": 429, "retry_after": 2}
BASE_FAULTS: dict[str, Any] = {
    "rules": [
        {"route": "*", "status": 500, "rate": 0.05},
        {"route": "*", "status": 503, "rate": 0.05},
    ],
    "route_latency_ms": {"DELETE /v2/instances/{instance-id}": 2000},
    "drop_create_response": {"rate": 0.3},
    "locked_delete": {"rate": 0.2},
}


async def post_faults(fleet: Fleet, config: dict[str, Any]) -> None:
    await asyncio.to_thread(fleet.emulator.admin, "POST", "/faults", json=config)


async def bursts_of_429(fleet: Fleet, every: float, window: float, bursts: int) -> None:
    """Every few seconds a short window in which every request gets 429 with
    Retry-After, as when the account's fleet exceeds its request budget together."""
    for _ in range(bursts):
        await asyncio.sleep(every - window)
        await post_faults(fleet, {**BASE_FAULTS, "rules": [BURST, *BASE_FAULTS["rules"]]})
        await asyncio.sleep(window)
        await post_faults(fleet, BASE_FAULTS)


async def busy_across_one_boundary(fleet: Fleet, handle: WorkflowHandle[Any, Any]) -> None:
    """Busy from the start; idle again 2 s after the first billing boundary."""
    await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="job"))
    while True:
        rows = [r for r in await asyncio.to_thread(fleet.ledger) if r["label"] == handle.id]
        if rows:
            created = datetime.fromisoformat(rows[0]["created_at"])
            wait = (created - datetime.now(UTC)).total_seconds() + PERIOD + 2
            await asyncio.sleep(max(0.0, wait))
            await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="job"))
            return
        await asyncio.sleep(0.5)


async def test_every_lifecycle_completes_without_leaks_or_duplicates_despite_vultr_faults(
    temporal_env: WorkflowEnvironment, mongo_uri: str, module_emulator: RunningEmulator
) -> None:
    module_emulator.reset()
    async with fleet_in_process(
        temporal_env.client,
        module_emulator,
        mongo_uri,
        max_servers=IDLE + BUSY,
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
    ) as fleet:
        await lifecycles_under_faults(fleet)


async def lifecycles_under_faults(fleet: Fleet) -> None:
    await post_faults(fleet, BASE_FAULTS)
    bursts = asyncio.create_task(bursts_of_429(fleet, every=6, window=2, bursts=11))
    policy = fleet.policy(
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
        readiness_timeout_seconds=120,
    )
    handles: dict[str, WorkflowHandle[Any, Any]] = {}
    intended: dict[str, int] = {}
    for i in range(IDLE + BUSY):
        inp = ServerInput(name=f"flaky-{i}", spec=fleet.spec(), policy=policy)
        handles[inp.workflow_id] = await fleet.client.start_workflow(
            ServerWorkflow.run,
            inp,
            id=inp.workflow_id,
            task_queue=fleet.settings.temporal_task_queue,
        )
        intended[inp.workflow_id] = 2 if i < BUSY else 1
    try:
        busy = [busy_across_one_boundary(fleet, h) for h in list(handles.values())[:BUSY]]
        await asyncio.wait_for(asyncio.gather(*busy), timeout=120)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(h.result() for h in handles.values())), timeout=150
            )
        except TimeoutError:
            raise AssertionError(
                "lifecycles did not finish:\n" + await explain_unfinished(handles.values())
            ) from None
    finally:
        bursts.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bursts
    before = ledger(fleet.emulator, intended)
    report = await fleet.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(grace_seconds=0, orphan_action="delete", policy=policy),
        id=f"reconcile-{uuid.uuid4().hex[:8]}",
        task_queue=fleet.settings.temporal_task_queue,
    )
    await post_faults(fleet, {})
    after = ledger(fleet.emulator, intended)
    requests = (await asyncio.to_thread(fleet.emulator.admin, "GET", "/requests")).json()
    injected = Counter(
        "dropped create" if r["dropped"] else f"{r['status']} {r['route']}".split(" /v2")[0]
        for r in requests["requests"]
        if r["dropped"] or r["status"] in (429, 500, 503)
    )
    extra = sum(after.extra_hours.values())
    print(
        f"\nvultr faults: runs={len(results)} failures="
        f"{sum(r.state != ServerState.TERMINATED for r in results)} "
        f"duplicates={sum(len(v) - 1 for v in after.duplicates.values())} "
        f"leaks_before_reconcile={len(before.leftovers)} leaks={len(after.leftovers)} "
        f"extra_billed_hours={extra} {after.extra_hours or ''}\n"
        f"  injected: {dict(sorted(injected.items()))}\n  reconcile: {report.actions}\n"
        + explain_extra_hours(after, requests["requests"])
    )

    assert [r.name for r in results if r.state != ServerState.TERMINATED] == []
    assert all(injected[k] for k in ("dropped create", "500 DELETE", "429 GET")), injected
    assert after.missing == []
    assert after.leftovers == [], after.summary()
    assert extra <= EXTRA_HOURS_BOUND, after.summary()


async def test_a_delete_refused_while_the_server_is_locked_still_finishes_before_the_boundary(
    temporal_env: WorkflowEnvironment, mongo_uri: str, module_emulator: RunningEmulator
) -> None:
    """Four deletes in a row answer "locked"; the lock is gone 14 s into the 20 s margin
    (retries at +2, +6 and +14 s). The next try must come before the boundary."""
    module_emulator.reset()
    async with fleet_in_process(
        temporal_env.client,
        module_emulator,
        mongo_uri,
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
    ) as fleet:
        await post_faults(fleet, {"locked_delete": {"count": 4}})
        handle = await fleet.start(
            "locked", billing_period_seconds=PERIOD, terminate_before_seconds=MARGIN
        )
        result = await handle.result()
    verdict = ledger(fleet.emulator, {handle.id: 1})
    requests = (await asyncio.to_thread(fleet.emulator.admin, "GET", "/requests")).json()

    assert result.state == ServerState.TERMINATED
    assert verdict.extra_hours == {}, explain_extra_hours(verdict, requests["requests"])
