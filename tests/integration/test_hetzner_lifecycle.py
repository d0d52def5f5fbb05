"""Hetzner servers through the same workflow, beside Vultr ones: a worker with
HCLOUD_TOKEN serves `<queue>-hetzner`, and each server is deleted before its own
boundary with the Hetzner ledger showing exactly the hours intended."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from core.lifecycle import ServerState
from core.models import ServerInput, ServerSpec, TaskSignal
from tests.integration.support import HETZNER_UBUNTU as UBUNTU
from tests.integration.support import MARGIN, PERIOD, Fleet, wait_until_ready
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

HETZNER_SPEC = ServerSpec(provider="hetzner", region="fsn1", plan="cx22", os_id=UBUNTU)


@pytest.fixture
async def both(fleet_factory: Any, fast_hetzner: RunningEmulator) -> Fleet:
    fast_hetzner.reset()
    return await fleet_factory(hcloud_token=TEST_API_KEY, hcloud_api_url=fast_hetzner.api_url)


def hetzner_ledger(emulator: RunningEmulator) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = emulator.admin("GET", "/ledger").json()["ledger"]
    return rows


async def start(fleet: Fleet, name: str, spec: ServerSpec, **policy: Any):  # type: ignore[no-untyped-def]
    inp = ServerInput(name=name, spec=spec, policy=fleet.policy(**policy))
    return await fleet.client.start_workflow(
        ServerWorkflow.run, inp, id=inp.workflow_id, task_queue=fleet.settings.temporal_task_queue
    )


async def test_idle_hetzner_and_vultr_servers_are_each_deleted_before_their_boundary(
    both: Fleet, fast_hetzner: RunningEmulator
):
    hz = await start(both, "hz-idle", HETZNER_SPEC)
    vu = await start(both, "vu-idle", both.spec())
    hz_result, vu_result = await asyncio.gather(hz.result(), vu.result())
    assert hz_result.state == vu_result.state == ServerState.TERMINATED
    (hz_row,) = hetzner_ledger(fast_hetzner)
    (vu_row,) = both.ledger()
    for row in (hz_row, vu_row):
        lived = (
            datetime.fromisoformat(row["deleted_at"]) - datetime.fromisoformat(row["created_at"])
        ).total_seconds()
        assert row["units"] == 1 and PERIOD - MARGIN - 1 <= lived < PERIOD, row
    assert hz_result.billed_hours == 1 and hz_result.provider == "hetzner"
    # Each bill is priced the provider's way: Hetzner's hourly price, Vultr's monthly / 672.
    assert hz_result.cost == pytest.approx(hz_row["total"])
    assert vu_result.cost == pytest.approx(vu_row["total"])


async def test_a_busy_hetzner_server_is_kept_across_its_boundary(
    both: Fleet, fast_hetzner: RunningEmulator
):
    handle = await start(both, "hz-busy", HETZNER_SPEC)
    # Provisioning at Hetzner's 0.9 requests/s takes seconds: start the job once it runs.
    await wait_until_ready(handle)
    await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id="job"))
    await asyncio.sleep(PERIOD + 2)
    await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id="job"))
    result = await handle.result()
    (row,) = hetzner_ledger(fast_hetzner)
    assert row["units"] == 2 and result.billed_hours == 2


async def test_hetzner_calls_go_through_their_own_rate_limited_queue(both: Fleet):
    handle = await start(both, "hz-queue", HETZNER_SPEC)
    await wait_until_ready(handle)
    await handle.signal(ServerWorkflow.request_termination, {"reason": "t", "immediately": True})
    await handle.result()
    queues = set()
    # The first run creates; a run continued as new (the tests' low threshold) deletes.
    first = both.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    for run in (first, handle):
        async for event in run.fetch_history_events():
            attrs = event.activity_task_scheduled_event_attributes
            if event.HasField("activity_task_scheduled_event_attributes"):
                queues.add((attrs.activity_type.name, attrs.task_queue.name))
    queue = f"{both.settings.temporal_task_queue}-hetzner"
    assert ("create_instance", queue) in queues and ("delete_instance", queue) in queues
    # The quote answers from the loaded catalog: not on the 1 request/s queue.
    assert ("quote_plan", f"{both.settings.temporal_task_queue}-catalog-hetzner") in queues
    assert ("quote_plan", queue) not in queues


async def test_a_provider_the_workers_do_not_serve_is_refused_before_anything_starts(
    fleet: Fleet,
):
    from client.errors import InvalidRequest
    from client.fleet import ServerFleet

    servers = ServerFleet(fleet.client, fleet.settings, fleet.db)
    with pytest.raises(InvalidRequest, match="provider 'hetzner' is not served by the workers"):
        await servers.provision("hz-nowhere", HETZNER_SPEC)
    assert not await servers.is_running("hz-nowhere")


async def quota_refusal(handle) -> str:  # type: ignore[no-untyped-def]
    """The failure message of the workflow's pending quota-slot attempt, once it has one."""
    for _ in range(80):
        pending = (await handle.describe()).raw_description.pending_activities
        for activity in pending:
            if activity.activity_type.name == "take_quota_slot" and activity.last_failure.message:
                return str(activity.last_failure.message)
        await asyncio.sleep(0.25)
    raise AssertionError("the quota slot was never refused")


async def test_each_provider_account_has_its_own_quota(
    fleet_factory: Any, fast_hetzner: RunningEmulator
):
    from activities.fleet_store import QUOTA_RESOURCE
    from leases import LeaseStore

    fast_hetzner.reset()
    fleet: Fleet = await fleet_factory(
        max_servers=1, hcloud_token=TEST_API_KEY, hcloud_api_url=fast_hetzner.api_url
    )
    # Kept past their deadlines, so both still hold their slots however slow the checks.
    hz = await start(fleet, "hz-quota-1", HETZNER_SPEC, terminate_idle_at_deadline=False)
    vu = await start(fleet, "vu-quota-1", fleet.spec(), terminate_idle_at_deadline=False)
    await asyncio.gather(wait_until_ready(hz), wait_until_ready(vu))
    # The Hetzner account's one slot is taken; the Vultr one does not count against it.
    second = await start(fleet, "hz-quota-2", HETZNER_SPEC)
    assert "'quota:servers:hetzner'" in await quota_refusal(second)
    status = await second.query(ServerWorkflow.status)
    assert status.state == ServerState.PROVISIONING and status.instance_id is None
    store = LeaseStore(fleet.db)
    assert [h.owner for h in await store.holders(QUOTA_RESOURCE)] == [vu.id]
    assert [h.owner for h in await store.holders(f"{QUOTA_RESOURCE}:hetzner")] == [hz.id]
    for handle in (hz, vu, second):
        await handle.signal(
            ServerWorkflow.request_termination, {"reason": "t", "immediately": True}
        )
    await asyncio.gather(hz.result(), vu.result(), second.result())
    assert len(hetzner_ledger(fast_hetzner)) == 1
