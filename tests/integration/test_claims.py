"""Claims: atomic across jobs, prefer paid time, lapse when the job stops renewing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from client.claims import ClaimBroker, ClaimError
from core.lifecycle import ServerState
from leases import LeaseStore
from tests.integration.support import Fleet, wait_for_state, wait_until_ready
from tests.support.waits import wait_until
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]


def broker(fleet: Fleet) -> ClaimBroker:
    return ClaimBroker(fleet.client, fleet.settings, fleet.db, LeaseStore(fleet.db))


async def started_ready(fleet: Fleet, name: str, **policy):
    """READY in the workflow and in the read model, which is what claims look at."""
    handle = await fleet.start(name, billing_period_seconds=300, **policy)
    await wait_until_ready(handle)
    await wait_until(
        lambda: fleet.db["servers"].find_one({"name": name, "state": "READY"}),
        within=20,
        what=f"{name} recorded READY",
    )
    return handle


async def stop_all(fleet: Fleet, handles) -> None:
    for h in handles:
        await h.signal(ServerWorkflow.request_termination, {"reason": "t", "immediately": True})
    await asyncio.gather(*(h.result() for h in handles))


async def test_concurrent_claimers_never_share_a_server(fleet_factory):
    fleet: Fleet = await fleet_factory(max_servers=10, billing_period_seconds=300)
    handles = [await started_ready(fleet, f"pool-{i}") for i in range(3)]
    b = broker(fleet)
    claims = await asyncio.gather(
        *(b.claim(f"job-{i}", ttl=timedelta(seconds=60)) for i in range(5))
    )
    servers = [c.server for c in claims]
    assert len(set(servers)) == 5, servers
    assert sum(c.reused for c in claims) == 3
    more = [fleet.client.get_workflow_handle(c.workflow_id) for c in claims if not c.reused]
    await stop_all(fleet, handles + more)


async def test_a_claim_prefers_the_server_with_the_most_paid_time_left(fleet_factory):
    fleet: Fleet = await fleet_factory(billing_period_seconds=300)
    older = await started_ready(fleet, "older")
    await asyncio.sleep(3)
    younger = await started_ready(fleet, "younger")
    claim = await broker(fleet).claim("job-pref", ttl=timedelta(seconds=60))
    assert claim.server == "younger"
    await stop_all(fleet, [older, younger])


async def test_a_lapsed_claim_returns_the_server_to_idle(fleet_factory):
    fleet: Fleet = await fleet_factory(billing_period_seconds=300)
    handle = await started_ready(fleet, "lapsing")
    claim = await broker(fleet).claim("job-dies", ttl=timedelta(seconds=2))
    assert claim.server == "lapsing"
    assert (await handle.query(ServerWorkflow.status)).state == ServerState.EXECUTING
    # Nobody renews: the lease lapses after 2 s.
    status = await wait_for_state(handle, ServerState.IDLE, within=10)
    assert status.active_tasks == []
    await stop_all(fleet, [handle])


async def test_release_marks_the_server_idle_and_frees_the_lease(fleet_factory):
    fleet: Fleet = await fleet_factory(billing_period_seconds=300)
    handle = await started_ready(fleet, "released")
    b = broker(fleet)
    claim = await b.claim("job-ok", ttl=timedelta(seconds=60))
    claim = await b.heartbeat(claim, timedelta(seconds=60))
    await b.release(claim)
    assert (await handle.query(ServerWorkflow.status)).state == ServerState.IDLE
    again = await b.claim("job-next", ttl=timedelta(seconds=60))
    assert again.server == "released"
    await stop_all(fleet, [handle])


async def test_a_claim_that_gives_up_cancels_the_server_still_waiting_for_quota(fleet_factory):
    fleet: Fleet = await fleet_factory(max_servers=1, billing_period_seconds=300)
    holder = await started_ready(fleet, "holder")
    b = broker(fleet)
    busy = await b.claim("job-a", ttl=timedelta(seconds=60))  # the one slot, now busy
    assert busy.server == "holder"
    with pytest.raises(ClaimError, match="waiting for a quota slot and is cancelled"):
        await b.claim("job-b", ttl=timedelta(seconds=60), wait=timedelta(seconds=3))
    (waiting,) = [doc async for doc in fleet.db["servers"].find({"name": {"$regex": "^claim-"}})]
    handle = fleet.client.get_workflow_handle_for(ServerWorkflow.run, waiting["workflow_id"])
    result = await handle.result()
    # Cancelled before it had an instance: nothing created, nothing billed.
    assert result.state == ServerState.TERMINATED
    assert result.instance_id is None and result.billed_hours == 0
    assert not any(waiting["name"] in str(row) for row in fleet.ledger())
    await b.release(busy)
    await stop_all(fleet, [holder])


async def test_a_server_provisioned_for_a_claim_starts_with_it(fleet_factory):
    """Started together with its claim update: the claim is applied in the first
    workflow task, before the server does anything, so no server boots unclaimed."""
    fleet: Fleet = await fleet_factory(billing_period_seconds=300)
    b = broker(fleet)
    claim = await b.claim("job-new", ttl=timedelta(seconds=60))
    assert not claim.reused
    handle = fleet.client.get_workflow_handle(claim.workflow_id)
    status = await handle.query(ServerWorkflow.status)
    assert status.state == ServerState.EXECUTING and "job-new" in status.active_tasks
    # The first run (a run may have continued as new since).
    first = fleet.client.get_workflow_handle(claim.workflow_id, run_id=status.generation)
    kinds = [event.event_type async for event in first.fetch_history_events()]
    accepted = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    assert accepted < kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    await b.release(claim)
    await stop_all(fleet, [handle])
