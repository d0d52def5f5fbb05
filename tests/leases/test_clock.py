"""Expiry follows the MongoDB server's clock; the client's clock changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from datetime import timedelta
from typing import Any

import pytest

import leases.models
import leases.store
from leases import LeaseStore
from tests.leases.support import acquire_within, server_now

TTL = timedelta(milliseconds=800)


def skew_client_clock(monkeypatch: pytest.MonkeyPatch, offset: timedelta) -> None:
    """Every wall-clock source the lease code could read reports `offset` from the truth."""
    real_time, real_time_ns = time.time, time.time_ns
    seconds = offset.total_seconds()
    monkeypatch.setattr(time, "time", lambda: real_time() + seconds)
    monkeypatch.setattr(time, "time_ns", lambda: real_time_ns() + int(seconds * 1e9))

    class SkewedDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> SkewedDatetime:  # type: ignore[override]
            return super().now(tz) + offset  # type: ignore[return-value]

        @classmethod
        def utcnow(cls) -> SkewedDatetime:  # type: ignore[override]
            return super().now(dt.UTC).replace(tzinfo=None) + offset  # type: ignore[return-value]

    for module in (leases.store, leases.models):
        if hasattr(module, "datetime"):
            monkeypatch.setattr(module, "datetime", SkewedDatetime)


@pytest.mark.parametrize("offset", [timedelta(hours=3), timedelta(hours=-3)])
async def test_expiry_is_set_by_the_server_clock_whatever_the_client_clock(
    store: LeaseStore, mongo_db: Any, monkeypatch: pytest.MonkeyPatch, offset: timedelta
) -> None:
    skew_client_clock(monkeypatch, offset)
    real_now = dt.datetime.now(dt.UTC).timestamp()
    assert abs(time.time() - real_now) > 3600  # the skew is in place

    lease = await store.acquire("quota", "wf-a", TTL)

    assert lease is not None
    remaining = lease.expires_at - await server_now(mongo_db)
    assert timedelta(0) < remaining <= TTL


@pytest.mark.parametrize("offset", [timedelta(hours=3), timedelta(hours=-3)])
async def test_takeover_happens_when_the_server_says_the_lease_expired(
    store: LeaseStore, monkeypatch: pytest.MonkeyPatch, offset: timedelta
) -> None:
    held = await store.acquire("quota", "wf-a", TTL)
    assert held is not None
    skew_client_clock(monkeypatch, offset)

    # A client clock hours ahead must not make the lease look expired early...
    assert await store.acquire("quota", "wf-b", TTL) is None
    assert await store.release(held.model_copy(update={"owner": "wf-b"})) is False
    # ...and one hours behind must not keep it alive late.
    await asyncio.sleep(TTL.total_seconds() + 0.1)
    taken = await store.acquire("quota", "wf-b", TTL)
    assert taken is not None and taken.token > held.token
    assert await store.renew(held, TTL) is None


async def test_a_holder_that_stops_renewing_loses_the_lease_within_ttl_plus_one_poll(
    store: LeaseStore,
) -> None:
    poll = timedelta(milliseconds=100)
    silent = await store.acquire("quota", "wf-a", TTL)
    assert silent is not None

    lease = await acquire_within(
        store, "quota", "wf-b", timedelta(seconds=5), within=timedelta(seconds=5), poll=poll
    )

    assert lease is not None
    granted_at = lease.expires_at - timedelta(seconds=5)
    assert granted_at >= silent.expires_at  # never before it expired
    assert granted_at - silent.expires_at <= poll + timedelta(milliseconds=100)


async def test_a_holder_that_keeps_renewing_keeps_the_lease(store: LeaseStore) -> None:
    lease = await store.acquire("quota", "wf-a", timedelta(milliseconds=400))
    assert lease is not None

    for _ in range(6):  # 1.2 s in all, three TTLs
        await asyncio.sleep(0.2)
        renewed = await store.renew(lease, timedelta(milliseconds=400))
        assert renewed is not None and renewed.token == lease.token
        assert await store.acquire("quota", "wf-b", timedelta(milliseconds=400)) is None
