"""The lease store's single-caller behaviour: grants, refusals, renewals, releases."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import pytest

from leases import Lease, LeaseStore
from leases.pipelines import free_filter
from tests.leases.support import acquire_within, server_now

SHORT = timedelta(milliseconds=300)
LONG = timedelta(seconds=30)


class RecordingMetrics:
    def __init__(self) -> None:
        self.observed: list[tuple[str, str]] = []
        self.denials: list[tuple[str, int]] = []
        self.takeovers: list[str] = []

    def observe(self, operation: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.observed.append((operation, outcome))

    def denied(self, resource: str, limit: int) -> None:
        self.denials.append((resource, limit))

    def takeover(self, resource: str) -> None:
        self.takeovers.append(resource)


async def test_acquire_grants_a_free_resource_with_server_time_expiry(
    store: LeaseStore, mongo_db: Any
) -> None:
    before = await server_now(mongo_db)
    lease = await store.acquire("quota", "wf-a", LONG)
    after = await server_now(mongo_db)

    assert lease is not None
    assert (lease.resource, lease.owner) == ("quota", "wf-a")
    assert lease.expires_at.tzinfo == UTC
    assert before + LONG - timedelta(milliseconds=5) <= lease.expires_at
    assert lease.expires_at <= after + LONG + timedelta(milliseconds=5)


async def test_second_owner_is_denied_while_the_lease_is_live(store: LeaseStore) -> None:
    assert await store.acquire("quota", "wf-a", LONG) is not None
    assert await store.acquire("quota", "wf-b", LONG) is None


async def test_acquire_is_idempotent_per_owner_and_extends_the_same_holding(
    store: LeaseStore,
) -> None:
    first = await store.acquire("pool", "wf-a", timedelta(seconds=5), limit=2)
    again = await store.acquire("pool", "wf-a", LONG, limit=2)

    assert first is not None and again is not None
    assert again.token == first.token
    assert again.expires_at > first.expires_at
    assert [h.owner for h in await store.holders("pool")] == ["wf-a"]
    # The retry took no second slot: another owner still fits.
    assert await store.acquire("pool", "wf-b", LONG, limit=2) is not None


async def test_semaphore_admits_at_most_limit_holders(store: LeaseStore) -> None:
    granted = [await store.acquire("terminations", f"wf-{i}", LONG, limit=3) for i in range(5)]

    assert [lease is not None for lease in granted] == [True, True, True, False, False]
    assert sorted(h.owner for h in await store.holders("terminations")) == ["wf-0", "wf-1", "wf-2"]


async def test_expired_holder_is_pruned_and_its_slot_taken_over(store: LeaseStore) -> None:
    metrics = RecordingMetrics()
    observed = LeaseStore(store.collection.database, store.collection.name, metrics=metrics)
    old = await observed.acquire("quota", "wf-a", SHORT)
    await asyncio.sleep(SHORT.total_seconds() + 0.1)

    new = await observed.acquire("quota", "wf-b", LONG)

    assert old is not None and new is not None
    assert new.token > old.token
    assert [h.owner for h in await store.holders("quota")] == ["wf-b"]
    assert metrics.takeovers == ["quota"]


async def test_holders_lists_only_live_holders(store: LeaseStore) -> None:
    await store.acquire("pool", "short", SHORT, limit=2)
    await store.acquire("pool", "long", LONG, limit=2)
    await asyncio.sleep(SHORT.total_seconds() + 0.1)

    assert [h.owner for h in await store.holders("pool")] == ["long"]
    assert await store.holders("never-used") == []


async def test_renew_extends_a_live_lease_and_keeps_its_token(store: LeaseStore) -> None:
    lease = await store.acquire("quota", "wf-a", SHORT)
    assert lease is not None

    renewed = await store.renew(lease, LONG)

    assert renewed is not None
    assert renewed.token == lease.token
    assert renewed.expires_at > lease.expires_at
    await asyncio.sleep(SHORT.total_seconds() + 0.1)
    assert await store.acquire("quota", "wf-b", LONG) is None


async def test_renew_never_revives_an_expired_lease(store: LeaseStore) -> None:
    lease = await store.acquire("quota", "wf-a", SHORT)
    assert lease is not None
    await asyncio.sleep(SHORT.total_seconds() + 0.1)

    assert await store.renew(lease, LONG) is None
    assert await store.holders("quota") == []


async def test_stale_renew_after_takeover_is_a_no_op(store: LeaseStore) -> None:
    stale = await store.acquire("quota", "wf-a", SHORT)
    assert stale is not None
    await asyncio.sleep(SHORT.total_seconds() + 0.1)
    current = await store.acquire("quota", "wf-b", LONG)

    assert await store.renew(stale, LONG) is None
    assert await store.holders("quota") == [current]


async def test_renew_by_the_same_owner_with_an_old_token_is_a_no_op(store: LeaseStore) -> None:
    old = await store.acquire("quota", "wf-a", SHORT)
    assert old is not None
    await asyncio.sleep(SHORT.total_seconds() + 0.1)
    new = await store.acquire("quota", "wf-a", LONG)
    assert new is not None and new.token > old.token

    assert await store.renew(old, LONG) is None
    assert await store.release(old) is False
    assert await store.holders("quota") == [new]


async def test_release_frees_the_slot(store: LeaseStore) -> None:
    lease = await store.acquire("quota", "wf-a", LONG)
    assert lease is not None

    assert await store.release(lease) is True
    assert await store.holders("quota") == []
    assert await store.acquire("quota", "wf-b", LONG) is not None


async def test_double_release_is_a_harmless_no_op(store: LeaseStore) -> None:
    lease = await store.acquire("quota", "wf-a", LONG)
    assert lease is not None
    other = await store.acquire("pool", "wf-b", LONG)

    assert await store.release(lease) is True
    assert await store.release(lease) is False
    assert await store.holders("pool") == [other]


async def test_stale_release_after_takeover_leaves_the_new_holder(store: LeaseStore) -> None:
    stale = await store.acquire("quota", "wf-a", SHORT)
    assert stale is not None
    await asyncio.sleep(SHORT.total_seconds() + 0.1)
    current = await store.acquire("quota", "wf-b", LONG)

    assert await store.release(stale) is False
    assert await store.holders("quota") == [current]


async def test_release_of_a_forged_token_is_a_no_op(store: LeaseStore) -> None:
    lease = await store.acquire("quota", "wf-a", LONG)
    assert lease is not None
    forged = lease.model_copy(update={"token": lease.token + 1})

    assert await store.release(forged) is False
    assert await store.holders("quota") == [lease]


async def test_fence_grows_across_releases_and_expiries(store: LeaseStore) -> None:
    tokens = []
    for i in range(4):
        lease = await store.acquire("quota", f"wf-{i % 2}", SHORT)
        assert lease is not None
        tokens.append(lease.token)
        if i % 2:
            await asyncio.sleep(SHORT.total_seconds() + 0.1)  # let it expire
        else:
            assert await store.release(lease)

    assert tokens == sorted(set(tokens))


async def test_release_all_drops_every_holding_of_an_owner_and_can_repeat(
    store: LeaseStore,
) -> None:
    await store.acquire("quota", "wf-a", LONG, limit=5)
    await store.acquire("terminations", "wf-a", LONG, limit=30)
    kept = await store.acquire("quota", "wf-b", LONG, limit=5)

    assert await store.release_all("wf-a") == 2
    assert await store.release_all("wf-a") == 0
    assert await store.holders("quota") == [kept]
    assert await store.holders("terminations") == []


async def test_metrics_hooks_see_outcomes_and_denials(store: LeaseStore) -> None:
    metrics = RecordingMetrics()
    observed = LeaseStore(store.collection.database, store.collection.name, metrics=metrics)

    lease = await observed.acquire("quota", "wf-a", LONG)
    await observed.acquire("quota", "wf-a", LONG)
    await observed.acquire("quota", "wf-b", LONG)
    assert lease is not None
    await observed.renew(lease, LONG)
    await observed.release(lease)
    await observed.release(lease)
    await observed.renew(lease, LONG)

    assert metrics.observed == [
        ("acquire", "acquired"),
        ("acquire", "reacquired"),
        ("acquire", "denied"),
        ("renew", "renewed"),
        ("release", "released"),
        ("release", "not_held"),
        ("renew", "lost"),
    ]
    assert metrics.denials == [("quota", 1)]
    assert metrics.takeovers == []


async def test_a_failing_metrics_hook_does_not_change_the_outcome(store: LeaseStore) -> None:
    class Broken(RecordingMetrics):
        def observe(self, operation: str, outcome: str, seconds: float) -> None:
            raise RuntimeError("exporter down")

    observed = LeaseStore(store.collection.database, store.collection.name, metrics=Broken())

    assert await observed.acquire("quota", "wf-a", LONG) is not None


async def test_ttl_index_collects_a_slot_only_a_grace_period_after_its_expiry(
    store: LeaseStore,
) -> None:
    lease = await store.acquire("quota", "wf-a", LONG)
    assert lease is not None
    indexes = await store.collection.index_information()
    doc = await store.collection.find_one({"res": "quota", "owner": "wf-a"})

    assert indexes["gc_after_ttl"]["expireAfterSeconds"] == 0
    assert doc is not None
    gc_after = doc["gc_after"].astimezone(UTC)
    assert gc_after >= lease.expires_at + timedelta(days=7)


async def test_a_released_lease_can_be_taken_by_the_next_owner(store: LeaseStore) -> None:
    held = await store.acquire("quota", "wf-a", LONG)
    assert held is not None

    async def release_soon() -> None:
        await asyncio.sleep(0.3)
        await store.release(held)

    releaser = asyncio.create_task(release_soon())
    lease = await acquire_within(store, "quota", "wf-b", LONG, within=timedelta(seconds=5))
    await releaser

    assert lease is not None and lease.owner == "wf-b"


@pytest.mark.parametrize(
    ("resource", "owner", "ttl", "limit"),
    [
        ("", "wf-a", LONG, 1),
        ("quota", "", LONG, 1),
        ("quota", "wf-a", timedelta(0), 1),
        ("quota", "wf-a", LONG, 0),
    ],
)
async def test_acquire_rejects_invalid_arguments(
    store: LeaseStore, resource: str, owner: str, ttl: timedelta, limit: int
) -> None:
    with pytest.raises(ValueError):
        await store.acquire(resource, owner, ttl, limit)


def test_store_refuses_a_client_without_retryable_writes(mongo_uri: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, retryWrites=False, connect=False)
    with pytest.raises(ValueError, match="retryable writes"):
        LeaseStore(client["x"])


def test_lease_round_trips_through_json_with_aware_utc_expiry() -> None:
    from datetime import datetime, timezone

    lease = Lease(
        resource="quota",
        owner="wf-a",
        token=7,
        expires_at=datetime(2030, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
    )
    back = Lease.model_validate_json(lease.model_dump_json())

    assert back == lease
    assert back.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert back.expires_at.utcoffset() == timedelta(0)


async def test_owner_names_that_look_like_field_paths_are_plain_data(store: LeaseStore) -> None:
    lease = await store.acquire("quota", "$owner", LONG, limit=2)
    assert lease is not None

    assert await store.acquire("quota", "$owner", LONG, limit=2) == lease.model_copy(
        update={"expires_at": (await store.holders("quota"))[0].expires_at}
    )
    assert [h.owner for h in await store.holders("quota")] == ["$owner"]
    assert await store.release(lease) is True
    assert await store.release_all("$owner") == 0


async def test_a_grant_finds_its_free_slot_by_index_not_among_the_held_ones(
    store: LeaseStore,
) -> None:
    for owner in ("wf-a", "wf-b", "wf-c"):
        assert await store.acquire("quota", owner, LONG, limit=100) is not None
    for query in (free_filter("quota"), free_filter("quota", among=[3, 9, 12])):
        plan = await store.collection.database.command(
            "explain", {"find": store.collection.name, "filter": query, "limit": 1}
        )
        assert "res_free" in str(plan["queryPlanner"]["winningPlan"]), plan
