"""DigitalOcean Droplets through the same workflow: a worker with DIGITALOCEAN_TOKEN
serves `<queue>-digitalocean`, and per-second billing replaces boundary deadlines with
an idle window, checked against the emulator's ledger of billed seconds.

Tolerance on a Droplet's life (the ledger's `deleted_at - created_at`): both are whole
seconds (up to 1 s lost each way), READY follows boot by at most one 0.5 s poll plus an
activity, and the delete waits for a termination slot and one call: so life is the boot
time plus the idle window (plus the jobs), from 1 s below to 3 s above."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest

from core.lifecycle import ServerState
from core.models import PolicyOverrides, ServerInput, ServerSpec, TaskSignal
from core.naming import MANAGED_TAG, instance_tag
from tests.integration.support import BOOT, Fleet, wait_for_state, wait_until_ready
from tests.integration.support import DIGITALOCEAN_UBUNTU as UBUNTU
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from workflows.reconcile import ReconcileInput, ReconcileWorkflow
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

DO_SPEC = ServerSpec(provider="digitalocean", region="nyc3", plan="s-1vcpu-1gb", os_id=UBUNTU)
MINIMUM = 60  # DigitalOcean bills at least 60 s a Droplet


def ledger(emulator: RunningEmulator) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = emulator.admin("GET", "/ledger").json()["ledger"]
    return rows


def lived(row: dict[str, Any]) -> float:
    end = datetime.fromisoformat(row["deleted_at"])
    return (end - datetime.fromisoformat(row["created_at"])).total_seconds()


async def start(fleet: Fleet, name: str, window: int):  # type: ignore[no-untyped-def]
    # Overrides, as the CLI sends them: the worker resolves the rest of the policy.
    inp = ServerInput(
        name=name,
        spec=DO_SPEC,
        overrides=PolicyOverrides(idle_window_seconds=window, ready_poll_seconds=0.5),
    )
    return await fleet.client.start_workflow(
        ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=fleet.settings.temporal_task_queue
    )


async def job(handle, task: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id=task))
    await asyncio.sleep(seconds)
    await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id=task))


async def test_an_idle_droplet_is_deleted_at_the_end_of_its_idle_window(
    do_fleet: Fleet, fast_digitalocean: RunningEmulator
):
    window = 3
    handle = await start(do_fleet, "do-idle", window)
    await wait_until_ready(handle)
    status = await handle.query(ServerWorkflow.status)
    assert status.terminate_at is not None and status.billed_hours == 0
    result = await handle.result()
    assert result.state == ServerState.TERMINATED
    assert result.timeline[-1].reason == "idle for its idle window"
    (row,) = ledger(fast_digitalocean)
    assert BOOT + window - 1 <= lived(row) <= BOOT + window + 3, row
    assert row["seconds"] == max(MINIMUM, round(lived(row))) == result.billed_seconds
    assert result.cost == pytest.approx(row["total"])
    queues = set()
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            queues.add((attrs.activity_type.name, attrs.task_queue.name))
    queue = f"{do_fleet.settings.temporal_task_queue}-digitalocean"
    # The last run's history (the test server suggests continuing as new early).
    assert ("delete_instance", queue) in queues and ("confirm_deleted", queue) in queues


async def test_a_burst_of_jobs_inside_the_window_is_served_by_one_droplet(
    do_fleet: Fleet, fast_digitalocean: RunningEmulator
):
    window = 3
    handle = await start(do_fleet, "do-burst", window)
    await wait_until_ready(handle)
    for i in range(3):  # each gap (1 s) is inside the window, which restarts each time
        await job(handle, f"job-{i}", 0.5)
        await asyncio.sleep(1)
    result = await handle.result()
    assert result.state == ServerState.TERMINATED
    (row,) = ledger(fast_digitalocean)  # one create for the whole burst
    assert lived(row) >= BOOT + 3 * 1.5 - 1 + window - 1, row


async def test_a_busy_droplet_is_never_deleted_and_its_window_starts_when_it_idles(
    do_fleet: Fleet, fast_digitalocean: RunningEmulator
):
    window = 2
    handle = await start(do_fleet, "do-busy", window)
    await wait_until_ready(handle)
    await handle.execute_update(ServerWorkflow.start_task, TaskSignal(task_id="long"))
    await asyncio.sleep(2 * window + 1)  # two windows and more, busy
    status = await handle.query(ServerWorkflow.status)
    assert status.state == ServerState.EXECUTING and status.terminate_at is None
    (row,) = ledger(fast_digitalocean)
    assert row["deleted_at"] is None
    await handle.execute_update(ServerWorkflow.finish_task, TaskSignal(task_id="long"))
    result = await handle.result()
    (row,) = ledger(fast_digitalocean)
    assert lived(row) >= BOOT + 2 * window + 1 + window - 1, row
    assert result.state == ServerState.TERMINATED


def create_droplet(emulator: RunningEmulator, name: str, tags: list[str]) -> str:
    response = httpx.post(
        f"{emulator.api_url}/droplets",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        json={
            "name": name,
            "region": "nyc3",
            "size": "s-1vcpu-1gb",
            "image": UBUNTU,
            "tags": tags,
        },
    )
    response.raise_for_status()
    return str(response.json()["droplet"]["id"])


async def test_reconciliation_adopts_an_orphan_droplet_and_leaves_an_unmanaged_one(
    do_fleet: Fleet, fast_digitalocean: RunningEmulator
):
    orphan = create_droplet(
        fast_digitalocean, "do-orphan", [MANAGED_TAG, instance_tag("server-do-orphan")]
    )
    theirs = create_droplet(fast_digitalocean, "someone-elses", ["web"])
    report = await do_fleet.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(
            grace_seconds=0,
            orphan_action="adopt",
            provider="digitalocean",
            policy=do_fleet.policy(idle_window_seconds=2),
        ),
        id="reconcile-do",
        task_queue=do_fleet.settings.temporal_task_queue,
    )
    assert [f.kind for f in report.findings] == ["orphan"]
    assert report.actions == [f"adopted orphan {orphan} as server-do-orphan"]
    result = await do_fleet.client.get_workflow_handle("server-do-orphan").result()
    assert result["state"] == ServerState.TERMINATED and result["instance_id"] == orphan
    rows = {row["instance_id"]: row for row in ledger(fast_digitalocean)}
    assert rows[orphan]["deleted_at"] is not None  # adopted: its idle window ended it
    assert rows[theirs]["deleted_at"] is None  # not ours: untouched


async def test_a_wrong_token_fails_the_server_with_a_clear_auth_error(
    fleet_factory: Any, fast_digitalocean: RunningEmulator
):
    fast_digitalocean.reset()
    fleet = await fleet_factory(
        digitalocean_token="not-the-token", digitalocean_api_url=fast_digitalocean.api_url
    )
    handle = await start(fleet, "do-badtoken", 2)
    status = await wait_for_state(handle, ServerState.ERROR, within=15)
    assert "401 from DigitalOcean" in (status.error or "")
    assert "check DIGITALOCEAN_TOKEN" in (status.error or "")
    assert ledger(fast_digitalocean) == []


async def test_a_claim_takes_the_most_recently_idle_droplet(do_fleet: Fleet):
    from client.claims import ClaimBroker
    from leases import LeaseStore

    # The stale one has the later deadline (a longer window): by paid time left, the
    # hourly rule, it would be taken; per second the freshest idle one is.
    stale = await start(do_fleet, "do-stale", 60)
    await wait_until_ready(stale)
    await asyncio.sleep(1)
    fresh = await start(do_fleet, "do-fresh", 20)
    await wait_until_ready(fresh)
    await asyncio.sleep(0.5)  # the read model records READY after the query shows it
    broker = ClaimBroker(do_fleet.client, do_fleet.settings, do_fleet.db, LeaseStore(do_fleet.db))
    claim = await broker.claim("job-1", provider="digitalocean", region="nyc3", plan="s-1vcpu-1gb")
    assert claim.reused and claim.server == "do-fresh"
    for handle in (stale, fresh):
        await handle.signal(
            ServerWorkflow.request_termination, {"reason": "t", "immediately": True}
        )
    await asyncio.gather(stale.result(), fresh.result())
