"""Ambiguous writes (write-concern errors, dropped connections) are read back, and an
acquire is never reported as granted unless the read-back shows the holding.

Uses the server's `configureFailPoint` test command, scoped to one client by appName;
skipped on a server without test commands.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, OperationFailure

from leases import LeaseOutcomeUnknown, LeaseStore

LONG = timedelta(seconds=30)
FailPoint = Callable[..., Awaitable[None]]


@pytest.fixture
async def faulty(mongo_uri: str, mongo_db: Any) -> AsyncIterator[tuple[LeaseStore, FailPoint]]:
    """A store whose client alone is hit by the failpoints armed with `arm(...)`."""
    app = f"lease-faults-{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True, appname=app)
    admin = mongo_db.client.admin
    armed = False

    async def arm(commands: list[str], mode: Any = "alwaysOn", **data: Any) -> None:
        nonlocal armed
        try:
            await admin.command(
                {
                    "configureFailPoint": "failCommand",
                    "mode": mode,
                    "data": {"failCommands": commands, "appName": app, **data},
                }
            )
        except OperationFailure as exc:
            pytest.skip(f"server has no failpoints (start it with test commands): {exc}")
        armed = True

    try:
        yield LeaseStore(client[mongo_db.name]), arm
    finally:
        if armed:
            await admin.command({"configureFailPoint": "failCommand", "mode": "off"})
        await client.close()


WCE = {"writeConcernError": {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "wtimeout"}}


async def test_write_concern_error_on_an_applied_acquire_is_resolved_by_read_back(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore
) -> None:
    leases, arm = faulty
    await arm(["findAndModify"], {"times": 1}, **WCE)

    lease = await leases.acquire("quota", "wf-a", LONG)

    assert lease is not None
    assert await store.holders("quota") == [lease]


async def test_write_concern_error_on_a_denied_acquire_is_unknown_not_granted(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore
) -> None:
    leases, arm = faulty
    held = await store.acquire("quota", "wf-a", LONG)
    await arm(["findAndModify"], {"times": 1}, **WCE)

    with pytest.raises(LeaseOutcomeUnknown, match="'quota'.*'wf-b'"):
        await leases.acquire("quota", "wf-b", LONG)
    assert await store.holders("quota") == [held]


async def test_dropped_connections_on_acquire_are_unknown_not_granted(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore
) -> None:
    leases, arm = faulty
    await arm(["findAndModify"], closeConnection=True)

    with pytest.raises(LeaseOutcomeUnknown, match="do not assume the lease is held"):
        await leases.acquire("quota", "wf-a", LONG)
    assert await store.holders("quota") == []


async def test_acquire_is_unknown_when_the_read_back_fails_too(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore
) -> None:
    leases, arm = faulty
    await arm(["findAndModify", "aggregate"], closeConnection=True)

    with pytest.raises(LeaseOutcomeUnknown):
        await leases.acquire("quota", "wf-a", LONG)


async def test_retrying_an_unknown_acquire_returns_the_same_single_holding(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    leases, arm = faulty

    async def unreachable(*args: Any) -> Any:
        raise AutoReconnect("connection reset during read-back")

    # The write is applied, then both its acknowledgement and the read-back fail.
    monkeypatch.setattr(leases, "_read_holding", unreachable)
    await arm(["findAndModify"], {"times": 1}, **WCE)

    with pytest.raises(LeaseOutcomeUnknown):
        await leases.acquire("quota", "wf-a", LONG, limit=2)
    applied = await store.holders("quota")
    retried = await store.acquire("quota", "wf-a", LONG, limit=2)

    assert retried is not None
    assert [h.token for h in applied] == [retried.token]
    assert [h.owner for h in await store.holders("quota")] == ["wf-a"]


async def test_write_concern_error_on_renew_is_resolved_by_read_back(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore
) -> None:
    leases, arm = faulty
    lease = await store.acquire("quota", "wf-a", timedelta(seconds=5))
    assert lease is not None
    await arm(["findAndModify"], {"times": 1}, **WCE)

    renewed = await leases.renew(lease, LONG)

    assert renewed is not None and renewed.token == lease.token
    assert renewed.expires_at > lease.expires_at


async def test_release_that_may_not_have_applied_is_unknown_while_still_held(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore
) -> None:
    leases, arm = faulty
    lease = await store.acquire("quota", "wf-a", LONG)
    assert lease is not None
    await arm(["update"], closeConnection=True)

    with pytest.raises(LeaseOutcomeUnknown, match="release"):
        await leases.release(lease)
    assert await store.holders("quota") == [lease]


async def test_a_stalled_database_fails_the_acquire_within_its_bound(
    faulty: tuple[LeaseStore, FailPoint], store: LeaseStore
) -> None:
    leases, arm = faulty
    bounded = LeaseStore(leases.collection.database, op_timeout=timedelta(milliseconds=500))
    assert await bounded.acquire("quota", "wf-x", LONG, limit=2) is not None
    # The server holds both the write and the read-back far past the bound.
    await arm(["findAndModify", "find"], blockConnection=True, blockTimeMS=3000)

    started = time.monotonic()
    with pytest.raises(LeaseOutcomeUnknown, match="(?i)timed out|timeout"):
        await bounded.acquire("quota", "wf-a", LONG, limit=2)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0, f"the stalled acquire took {elapsed:.1f}s"
