"""MongoDB (leases and the read model) failing under running lifecycles: the whole
server stopped for 30 s and restarted on the same port with its on-disk data, and
single commands failed or stalled through SecantusDB's `failCommand` failpoints.

Sizes: the outage runs 6 servers under a quota of 3 on the fast emulator (20 s
billing period, 5 s margin, 2 s boot), about 60 s; each failpoint case runs one
server, 5 to 40 s. The failpoint cases need a server with test commands (the
embedded one has them) and are skipped otherwise.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.fleet_store import QUOTA_RESOURCE, SERVERS_COLLECTION
from core.lifecycle import ServerState
from core.models import TerminationRequest
from leases import LeaseStore
from tests.faults.support import (
    activity_spans,
    explain_unfinished,
    fleet_in_process,
    ledger,
    recovered_activities,
)
from tests.integration.support import MARGIN, PERIOD
from tests.support.emulator import RunningEmulator
from tests.support.mongo import RestartableMongo
from tests.support.waits import wait_until
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVERS, QUOTA = 6, 3
OUTAGE_SECONDS = 30
FailPoint = Callable[..., Awaitable[None]]
MONGO_ACTIVITIES = {
    "take_quota_slot",
    "take_termination_slot",
    "release_termination_slot",
    "record_server",
    "release_server_leases",
}


async def wait_for(handles: list[WorkflowHandle[Any, Any]], state: ServerState, count: int) -> None:
    async def reached() -> bool:
        states = [(await h.query(ServerWorkflow.status)).state for h in handles]
        return states.count(state) >= count

    await wait_until(reached, within=60, what=f"{count} servers {state}")


async def latest_records(uri: str, db_name: str) -> dict[str, list[dict[str, Any]]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri, tz_aware=True)
    try:
        docs = await client[db_name][SERVERS_COLLECTION].find().to_list()
    finally:
        await client.close()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_name.setdefault(doc["name"], []).append(doc)
    return by_name


async def test_a_mongodb_outage_mid_run_grants_no_extra_slot_and_every_server_terminates(
    temporal_env: WorkflowEnvironment,
    fast_emulator: RunningEmulator,
    restartable_mongo: RestartableMongo,
) -> None:
    fast_emulator.reset()
    async with fleet_in_process(
        temporal_env.client,
        fast_emulator,
        restartable_mongo.uri,
        max_servers=QUOTA,
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
    ) as fleet:
        handles = [await fleet.start(f"outage-{i}") for i in range(SERVERS)]
        await wait_for(handles, ServerState.READY, QUOTA)
        await asyncio.to_thread(restartable_mongo.stop)
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(restartable_mongo.start)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(h.result() for h in handles)), timeout=150
            )
        except TimeoutError:
            raise AssertionError(
                "servers did not finish:\n" + await explain_unfinished(handles)
            ) from None
        verdict = ledger(fast_emulator, {h.id: 1 for h in handles})
        retried = [
            r
            for h in handles
            for r in await recovered_activities(fleet.client, h)
            if r.activity in MONGO_ACTIVITIES and r.failure != "timeout"
        ]
        records = await latest_records(restartable_mongo.uri, fleet.settings.mongo_db)
        holders = await LeaseStore(fleet.db).holders(QUOTA_RESOURCE)
    print(
        f"\nmongo down {OUTAGE_SECONDS}s: runs={len(results)} failures="
        f"{sum(r.state != ServerState.TERMINATED for r in results)} "
        f"duplicates={len(verdict.duplicates)} leaks={len(verdict.leftovers)} "
        f"peak_live={verdict.peak_overlap()}/{QUOTA} "
        f"extra_billed_hours={sum(verdict.extra_hours.values())} {verdict.extra_hours or ''}\n"
        f"  activities retried while it was down: {sorted({r.activity for r in retried})}"
    )

    assert [r.name for r in results if r.state != ServerState.TERMINATED] == []
    assert retried, "no activity met the outage"
    assert verdict.peak_overlap() <= QUOTA, verdict.rows
    assert verdict.duplicates == {} and verdict.leftovers == [], verdict.summary()
    assert holders == []
    for result in results:
        (doc,) = records[result.name]
        assert doc["state"] == ServerState.TERMINATED.value, doc
        assert doc["instance_id"] == result.instance_id


async def test_a_mongodb_outage_at_the_deadlines_still_deletes_before_the_boundary(
    temporal_env: WorkflowEnvironment,
    fast_emulator: RunningEmulator,
    restartable_mongo: RestartableMongo,
) -> None:
    """MongoDB stops shortly before the idle servers' deadlines and comes back after
    their boundaries: each delete waits for its termination slot only a quarter of the
    5 s margin, goes without it, and no server pays a second period. The workflows
    finish (TERMINATED, leases released) once MongoDB is back."""
    fast_emulator.reset()
    async with fleet_in_process(
        temporal_env.client,
        fast_emulator,
        restartable_mongo.uri,
        billing_period_seconds=PERIOD,
        terminate_before_seconds=MARGIN,
    ) as fleet:
        handles = [await fleet.start(f"deadline-outage-{i}") for i in range(3)]
        await wait_for(handles, ServerState.READY, len(handles))
        created = [datetime.fromisoformat(r["created_at"]) for r in ledger(fast_emulator).rows]
        first_deadline = min(created) + timedelta(seconds=PERIOD - MARGIN)
        last_boundary = max(created) + timedelta(seconds=PERIOD)
        await asyncio.sleep(max(0.0, (first_deadline - datetime.now(UTC)).total_seconds() - 3))
        await asyncio.to_thread(restartable_mongo.stop)
        stopped = datetime.now(UTC)
        await asyncio.sleep(max(0.0, (last_boundary - datetime.now(UTC)).total_seconds() + 1))
        deleted_while_down = ledger(fast_emulator).rows
        await asyncio.to_thread(restartable_mongo.start)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(h.result() for h in handles)), timeout=60
            )
        except TimeoutError:
            raise AssertionError(
                "servers did not finish:\n" + await explain_unfinished(handles)
            ) from None
        verdict = ledger(fast_emulator, {h.id: 1 for h in handles})
        records = await latest_records(restartable_mongo.uri, fleet.settings.mongo_db)
        holders = await LeaseStore(fleet.db).holders(QUOTA_RESOURCE)
    print(f"\nmongo down across 3 deadlines: {verdict.summary()}")

    assert all(r["deleted_at"] for r in deleted_while_down), deleted_while_down
    for row in deleted_while_down:
        deleted = datetime.fromisoformat(row["deleted_at"])
        assert (
            stopped
            < deleted
            < datetime.fromisoformat(row["created_at"]) + timedelta(seconds=PERIOD)
        ), row
    assert verdict.extra_hours == {} and verdict.leftovers == [], verdict.summary()
    assert [r.state for r in results] == [ServerState.TERMINATED] * len(handles)
    for result in results:
        assert result.timeline[-1].reason.endswith(
            "deleting without a termination slot: MongoDB did not answer within 1.25 s"
        ), result.timeline[-1]
        (doc,) = records[result.name]
        assert doc["state"] == ServerState.TERMINATED.value, doc
    assert holders == []


# -- single commands failing or stalling --------------------------------------------------------


@pytest.fixture
async def failpoints(mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[tuple[str, FailPoint]]:
    """An appName for the fleet's MongoDB client, and `arm(mode, **data)` to set a
    `failCommand` failpoint on findAndModify for that client alone."""
    app = f"faults-{uuid.uuid4().hex[:8]}"
    armed = False

    async def arm(mode: Any, **data: Any) -> None:
        nonlocal armed
        command = {
            "configureFailPoint": "failCommand",
            "mode": mode,
            "data": {"failCommands": ["findAndModify"], "appName": app, **data},
        }
        try:
            await mongo_client.admin.command(command)
        except OperationFailure as exc:
            pytest.skip(f"MongoDB without failpoints (start it with test commands): {exc}")
        armed = True

    try:
        yield app, arm
    finally:
        if armed:
            await mongo_client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})


async def test_an_acquire_whose_connection_drops_twice_is_granted_exactly_once(
    temporal_env: WorkflowEnvironment,
    fast_emulator: RunningEmulator,
    mongo_uri: str,
    failpoints: tuple[str, FailPoint],
) -> None:
    """findAndModify #1 is the PROVISIONING record; #2 and #3 are the quota's first lease
    calls (the driver retries each once): both lose their connection before running.
    The store either recovers within the activity or the activity's retry does; either
    way the slot is granted once."""
    app, arm = failpoints
    fast_emulator.reset()
    async with fleet_in_process(
        temporal_env.client, fast_emulator, mongo_uri, appname=app, max_servers=1
    ) as fleet:
        await arm({"skip": 1, "times": 2}, closeConnection=True)
        handle = await fleet.start("flaky-acquire")
        await wait_for([handle], ServerState.READY, 1)
        holders = await LeaseStore(fleet.db).holders(QUOTA_RESOURCE)
        result = await handle.result()
        quota_attempts = [
            r
            for r in await recovered_activities(fleet.client, handle)
            if r.activity == "take_quota_slot"
        ]

    assert [(h.owner, h.resource) for h in holders] == [(handle.id, QUOTA_RESOURCE)]
    assert [r.attempt for r in quota_attempts] in ([], [2]), quota_attempts
    assert result.state == ServerState.TERMINATED
    assert [row["units"] for row in fast_emulator.admin("GET", "/ledger").json()["ledger"]] == [1]


async def test_a_failing_lease_activity_shows_why_it_retries(
    temporal_env: WorkflowEnvironment,
    fast_emulator: RunningEmulator,
    mongo_uri: str,
    failpoints: tuple[str, FailPoint],
) -> None:
    """While the quota acquire keeps losing its connection, the pending activity's last
    failure (what the web UI shows) says what is wrong and that retrying is safe."""
    app, arm = failpoints
    fast_emulator.reset()
    async with fleet_in_process(
        temporal_env.client, fast_emulator, mongo_uri, appname=app
    ) as fleet:
        await arm({"skip": 1}, closeConnection=True)
        handle = await fleet.start("unknown-acquire")
        failure = ""
        for _ in range(100):
            pending = (await handle.describe()).raw_description.pending_activities
            if pending and pending[0].attempt > 1:
                failure = pending[0].last_failure.message
                break
            await asyncio.sleep(0.1)
        await arm("off")
        await handle.signal(
            ServerWorkflow.request_termination,
            TerminationRequest(reason="test done", immediately=True),
        )
        await handle.result()

    assert "do not assume the lease is held, retry the acquire" in failure, failure


async def test_a_stalled_read_model_write_does_not_delay_the_billing_timer(
    temporal_env: WorkflowEnvironment,
    fast_emulator: RunningEmulator,
    mongo_uri: str,
    failpoints: tuple[str, FailPoint],
) -> None:
    """findAndModify #5 is a read-model write after the server is READY (the TERMINATING
    record at the deadline); its connection stalls for 12 s, so the write gives up at its
    5 s bound (timeoutMS) and is retried. The deadline is fixed by the instance's creation
    time, so the server must still be deleted at it, not seconds later."""
    app, arm = failpoints
    fast_emulator.reset()
    async with fleet_in_process(
        temporal_env.client, fast_emulator, mongo_uri, appname=app
    ) as fleet:
        await arm({"skip": 4, "times": 1}, blockConnection=True, blockTimeMS=12_000)
        handle = await fleet.start("stalled-record")
        result = await handle.result()
        spans = await activity_spans(fleet.client, handle)
    (row,) = fast_emulator.admin("GET", "/ledger").json()["ledger"]
    created = datetime.fromisoformat(row["created_at"])
    deleted = datetime.fromisoformat(row["deleted_at"])
    late = deleted - (created + timedelta(seconds=PERIOD - MARGIN))

    ready = next(i for i, s in enumerate(spans) if s.activity == "check_ready")
    stalled = [s for s in spans if s.activity == "record_server" and s.seconds >= 4.5]
    assert stalled and spans.index(stalled[0]) > ready, spans  # a record after READY stalled
    assert result.state == ServerState.TERMINATED
    assert late < timedelta(seconds=3), f"deleted {late.total_seconds():.1f}s after its deadline"
    assert row["units"] == 1
