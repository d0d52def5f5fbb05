"""A worker SIGKILLed while its DELETE is in flight, with a second worker on the same
queues: the provider activities heartbeat, so the lost attempt fails over when its
heartbeat timeout passes and the second worker deletes the server seconds later,
well inside a 20 s margin (the start-to-close timeout alone would take 45 s).

Size: one lifecycle (40 s period, 20 s margin), two `python worker.py` subprocesses
(session dev server and MongoDB, its own emulator). About 35 s.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.lifecycle import ServerState
from core.models import ServerInput, ServerPolicy, ServerSpec
from devstack.components import worker_process
from devstack.procs import ManagedProcess, free_port
from tests.faults.support import ledger, unique
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from tests.support.waits import wait_until
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD, MARGIN, BOOT = 40, 20, 2
EMULATOR_SEED = 41
DELETE_ROUTE = "DELETE /v2/instances/{instance-id}"
# A slow DELETE keeps the attempt in flight long enough to kill its worker mid-call.
SLOW_DELETE = {"route_latency_ms": {DELETE_ROUTE: 3000}}
RETRY_WITHIN = 10.0  # seconds from the kill to the next DELETE


@pytest.fixture
def two_workers(
    temporal_env: WorkflowEnvironment,
    mongo_uri: str,
    module_emulator: RunningEmulator,
    tmp_path: Path,
) -> Iterator[list[ManagedProcess]]:
    """Two `python worker.py` on the same queues and database, both started."""
    queue, db = unique("mid-delete"), unique("mid_delete").replace("-", "_")
    workers = []
    for i in range(2):
        port = free_port()
        env = {
            "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
            "TEMPORAL_TASK_QUEUE": queue,
            "MONGO_URI": mongo_uri,
            "MONGO_DB": db,
            "VULTR_API_URL": module_emulator.api_url,
            "VULTR_API_KEY": TEST_API_KEY,
            "BILLING_PERIOD_SECONDS": str(PERIOD),
            "TERMINATE_BEFORE_SECONDS": str(MARGIN),
            "METRICS_PORT": str(port),
            "RECONCILE_INTERVAL_SECONDS": "0",
            "PAYLOAD_ENCRYPTION_KEY": "",
        }
        workers.append(worker_process(tmp_path / f"worker-{i}.log", env, port))
    try:
        starting = [threading.Thread(target=w.start, args=(60,)) for w in workers]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        assert all(w.running() for w in workers), [w.tail() for w in workers]
        yield workers
    finally:
        for w in workers:
            w.stop()


async def delete_in_flight(handle: WorkflowHandle[Any, Any]) -> str:
    """The identity (`pid@host`) of the worker running the server's delete right now."""

    async def deleting_worker() -> str | None:
        desc = await handle.describe()
        for pending in desc.raw_description.pending_activities:
            started = pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            if started and pending.activity_type.name == "delete_instance":
                return str(pending.last_worker_identity)
        return None

    return await wait_until(
        deleting_worker, within=PERIOD, interval=0.1, what=f"a delete of {handle.id} running"
    )


async def test_a_worker_killed_mid_delete_is_replaced_within_seconds_and_no_period_is_added(
    temporal_env: WorkflowEnvironment,
    two_workers: list[ManagedProcess],
    module_emulator: RunningEmulator,
) -> None:
    module_emulator.reset()
    module_emulator.admin("POST", "/faults", json=SLOW_DELETE)
    inp = ServerInput(
        name=unique("mid-delete"),
        spec=ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284),
        policy=ServerPolicy(
            billing_period_seconds=PERIOD,
            terminate_before_seconds=MARGIN,
            ready_poll_seconds=0.5,
            readiness_timeout_seconds=60,
        ),
    )
    assert two_workers[0].env is not None
    queue = two_workers[0].env["TEMPORAL_TASK_QUEUE"]
    handle = await temporal_env.client.start_workflow(
        ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=queue
    )
    identity = await delete_in_flight(handle)
    victim = next(w for w in two_workers if identity.startswith(f"{w.pid}@"))
    victim.kill()
    killed_at = time.time()

    status = await asyncio.wait_for(handle.result(), timeout=75)
    deletes = [
        r["time"]
        for r in module_emulator.admin("GET", "/requests").json()["requests"]
        if r["route"] == DELETE_ROUTE
    ]
    retries = [t - killed_at for t in deletes if t > killed_at]
    [row] = ledger(module_emulator).by_label[handle.id]
    # created_at is given to the second, so the true boundary is up to 1 s later; the
    # ledger's units are billed from the exact time and decide.
    boundary = datetime.fromisoformat(row["created_at"]) + timedelta(seconds=PERIOD + 1)
    terminated = [e.at for e in status.timeline if e.state == ServerState.TERMINATED]
    print(
        f"\nkilled mid-delete: DELETE retried {retries[0] if retries else float('nan'):.1f} s "
        f"after the kill; delete confirmed "
        f"{(boundary - terminated[-1]).total_seconds() if terminated else float('nan'):.1f} s "
        f"before the boundary; units={row['units']}"
    )

    assert status.state == ServerState.TERMINATED
    assert retries, f"no DELETE after the kill (DELETEs at {deletes}, kill at {killed_at})"
    assert retries[0] < RETRY_WITHIN, f"the lost delete was retried {retries[0]:.1f} s later"
    assert terminated and terminated[-1] < boundary, (terminated, boundary)
    assert row["deleted_at"] is not None
    assert datetime.fromisoformat(row["deleted_at"]) < boundary
    assert row["units"] == 1, row
