"""The worker process is SIGKILLed at chosen moments (while an instance is being
created, while readiness is polled, while an instance is deleted, and at an arbitrary
moment) and restarted after a random pause, while servers run their lifecycles.

Size: 50 lifecycles on one `python worker.py` subprocess (session dev server and
MongoDB, its own emulator): 10 busy across one billing boundary (2 billed hours each)
started first, then 40 idle ones (1 billed hour each) started every 3.5 s; 4 kills
about 55 s apart. About 4 minutes.

Why a 120 s period and a 60 s margin: a lost provider call is retried once its 5 s
heartbeat timeout passes (PROVIDER_HEARTBEAT_TIMEOUT), but a lost MongoDB call only
when its 15 s start-to-close timeout does, and a restarted worker takes a few seconds
more; the margin covers that for a crash during the delete, and the time from create
to the first deadline covers it for a crash during provisioning. Kills are spaced
further apart than that, so that each phase of a lifecycle sees at most one crash.
(tests/faults/test_worker_killed_mid_delete.py holds a delete to a 20 s margin.)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.lifecycle import ServerState
from core.models import ServerInput, ServerPolicy, ServerSpec, TaskSignal
from devstack.components import worker_process
from devstack.procs import ManagedProcess, free_port
from tests.faults.support import (
    count_by,
    explain_extra_hours,
    explain_unfinished,
    ledger,
    recovered_activities,
    unique,
)
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD, MARGIN, BOOT = 120, 60, 2
BUSY, IDLE = 10, 40
IDLE_EVERY = 3.5  # seconds between idle starts
KILL_SPACING = (55.0, 60.0)  # well apart: each lifecycle phase sees at most one crash
SEED = 20240601
EMULATOR_SEED = SEED % 1000
# Slow calls widen the windows in which a kill lands mid-request.
LATENCY = {
    "route_latency_ms": {
        "POST /v2/instances": 1000,
        "DELETE /v2/instances/{instance-id}": 1000,
        "GET /v2/instances/{instance-id}": 300,
    }
}
TARGETS = {
    "create": "create_instance",
    "ready": "check_ready",
    "delete": "delete_instance",
}


@pytest.fixture
def worker(
    temporal_env: WorkflowEnvironment,
    mongo_uri: str,
    module_emulator: RunningEmulator,
    tmp_path: Path,
) -> Iterator[ManagedProcess]:
    """`python worker.py` configured through its environment, not yet started."""
    metrics_port = free_port()
    env = {
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
        "TEMPORAL_TASK_QUEUE": unique("killed"),
        "MONGO_URI": mongo_uri,
        "MONGO_DB": unique("killed").replace("-", "_"),
        "VULTR_API_URL": module_emulator.api_url,
        "VULTR_API_KEY": TEST_API_KEY,
        "BILLING_PERIOD_SECONDS": str(PERIOD),
        "TERMINATE_BEFORE_SECONDS": str(MARGIN),
        "MAX_SERVERS": str(BUSY + IDLE),
        "METRICS_PORT": str(metrics_port),
        "RECONCILE_INTERVAL_SECONDS": "0",
        "VULTR_REQUESTS_PER_SECOND": "30",
        "PAYLOAD_ENCRYPTION_KEY": "",
    }
    process = worker_process(tmp_path / "worker.log", env, metrics_port)
    try:
        yield process
    finally:
        process.stop()


@dataclass
class Kill:
    target: str
    at: float
    observed: list[str]
    pause: float


@dataclass
class Run:
    """The servers started so far and what the policy intends each to cost."""

    client: Any
    task_queue: str
    emulator: RunningEmulator
    handles: dict[str, WorkflowHandle[Any, Any]] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    intended: dict[str, int] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)

    async def start(self, name: str, busy: bool) -> WorkflowHandle[Any, Any]:
        policy = ServerPolicy(
            billing_period_seconds=PERIOD,
            terminate_before_seconds=MARGIN,
            ready_poll_seconds=0.5,
            readiness_timeout_seconds=180,
        )
        inp = ServerInput(
            name=name, spec=ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284), policy=policy
        )
        handle = await self.client.start_workflow(
            ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=self.task_queue
        )
        self.handles[handle.id] = handle
        self.started_at[handle.id] = time.monotonic()
        self.intended[handle.id] = 2 if busy else 1
        if busy:
            await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="job"))
        return handle

    def running(self) -> list[WorkflowHandle[Any, Any]]:
        return [h for wf, h in self.handles.items() if wf not in self.finished]

    def ledger(self) -> list[dict[str, Any]]:
        return self.emulator.admin("GET", "/ledger").json()["ledger"]


async def idle_after_the_boundary(run: Run, handle: WorkflowHandle[Any, Any]) -> None:
    """Ends the busy task 5 s after the server's first billing boundary."""
    while True:
        rows = [r for r in await asyncio.to_thread(run.ledger) if r["label"] == handle.id]
        if rows:
            created = datetime.fromisoformat(rows[0]["created_at"])
            wait = (created - datetime.now(UTC)).total_seconds() + PERIOD + 5
            await asyncio.sleep(max(0.0, wait))
            await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="job"))
            return
        await asyncio.sleep(0.5)


async def candidates(run: Run, target: str) -> list[WorkflowHandle[Any, Any]]:
    """Servers that may be running the target's activity now: recently started ones for
    create and readiness, ones at or past their deadline for delete, all otherwise."""
    running = run.running()
    if target in ("create", "ready"):
        clock = time.monotonic()
        return [h for h in running if clock - run.started_at[h.id] < 20]
    if target == "delete":
        due = set()
        now = datetime.now(UTC)
        for row in await asyncio.to_thread(run.ledger):
            created = datetime.fromisoformat(row["created_at"])
            deadline = run.intended.get(row["label"], 1) * PERIOD - MARGIN
            if row["deleted_at"] is None and (now - created).total_seconds() >= deadline - 2:
                due.add(row["label"])
        return [h for h in running if h.id in due]
    return running


async def started_activities(handles: list[WorkflowHandle[Any, Any]]) -> list[str]:
    """`workflow: activity` for every attempt the server sees as started right now."""
    descriptions = await asyncio.gather(*(h.describe() for h in handles))
    return [
        f"{handle.id}: {pending.activity_type.name}"
        for handle, desc in zip(handles, descriptions, strict=True)
        for pending in desc.raw_description.pending_activities
        if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    ]


async def kill_when(run: Run, worker: ManagedProcess, target: str, rng: random.Random) -> Kill:
    """SIGKILL once the target activity is in flight (or after 25 s regardless), then
    restart after a random pause."""
    activity = TARGETS.get(target)
    give_up = time.monotonic() + 25
    observed: list[str] = []
    while True:
        observed = await started_activities(await candidates(run, target))
        if activity is None or any(o.endswith(activity) for o in observed):
            break
        if time.monotonic() > give_up:
            break
        await asyncio.sleep(0.2)
    worker.kill()
    kill = Kill(target, time.monotonic(), observed, rng.uniform(0.5, 3.0))
    await asyncio.sleep(kill.pause)
    await asyncio.to_thread(worker.start, 60)
    return kill


async def chaos(run: Run, worker: ManagedProcess, rng: random.Random, kills: list[Kill]) -> None:
    plan = rng.sample(list(TARGETS), len(TARGETS)) + ["between"]
    next_at = time.monotonic() + rng.uniform(12, 18)
    for target in plan:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if not run.running():
            return
        kills.append(await kill_when(run, worker, target, rng))
        next_at = kills[-1].at + rng.uniform(*KILL_SPACING)


async def test_killed_workers_leave_no_duplicate_no_leak_and_no_extra_billed_hour(
    temporal_env: WorkflowEnvironment, worker: ManagedProcess, module_emulator: RunningEmulator
) -> None:
    module_emulator.reset()
    module_emulator.admin("POST", "/faults", json=LATENCY)
    await asyncio.to_thread(worker.start, 60)
    assert worker.env is not None
    run = Run(temporal_env.client, worker.env["TEMPORAL_TASK_QUEUE"], module_emulator)
    rng = random.Random(SEED)
    kills: list[Kill] = []
    chaos_task = asyncio.create_task(chaos(run, worker, rng, kills))
    helpers = []
    for i in range(BUSY):
        handle = await run.start(f"busy-{i}", busy=True)
        helpers.append(asyncio.create_task(idle_after_the_boundary(run, handle)))
        await asyncio.sleep(1.0)
    for i in range(IDLE):
        await run.start(f"idle-{i}", busy=False)
        await asyncio.sleep(IDLE_EVERY)

    async def finished(handle: WorkflowHandle[Any, Any]) -> Any:
        result = await handle.result()
        run.finished.add(handle.id)
        return result

    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(finished(h) for h in run.handles.values()), *helpers), timeout=300
        )
    except TimeoutError:
        raise AssertionError(
            "lifecycles did not finish:\n" + await explain_unfinished(run.running())
        ) from None
    finally:
        await chaos_task
    statuses = results[: len(run.handles)]
    verdict = ledger(module_emulator, run.intended)
    recoveries = [
        r for h in run.handles.values() for r in await recovered_activities(run.client, h)
    ]
    requests = module_emulator.admin("GET", "/requests").json()["requests"]
    extra = sum(verdict.extra_hours.values())
    print(
        f"\nworker killed: runs={len(statuses)} kills={len(kills)} failures="
        f"{sum(s.state != ServerState.TERMINATED for s in statuses)} "
        f"duplicates={sum(len(v) - 1 for v in verdict.duplicates.values())} "
        f"leaks={len(verdict.leftovers)} extra_billed_hours={extra}\n"
        + "\n".join(
            f"  kill {k.target}: restarted after {k.pause:.1f}s; in flight: "
            f"{count_by(o.split(': ')[1] for o in k.observed)}"
            for k in kills
        )
        + f"\n  retried after a timeout: "
        f"{count_by(r.activity for r in recoveries if r.failure == 'timeout')}"
    )

    assert [s.name for s in statuses if s.state != ServerState.TERMINATED] == []
    assert len(kills) == len(TARGETS) + 1
    assert any(r.failure == "timeout" for r in recoveries), "no kill interrupted an activity"
    assert verdict.missing == []
    assert verdict.duplicates == {}, verdict.summary()
    assert verdict.leftovers == [], verdict.summary()
    assert extra == 0, verdict.summary() + "\n" + explain_extra_hours(verdict, requests)
