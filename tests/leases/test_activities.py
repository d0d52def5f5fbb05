"""The lease activities the worker registers (taking and giving back slots, reading
holders), run with temporalio's ActivityEnvironment over the real lease store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, OperationFailure, WriteConcernError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities.fleet_store import FleetStoreActivities, quota_resource
from activities.leases import LeaseActivities
from activities.payloads import SlotInput
from leases import Lease, LeaseHoldersInput, LeaseOutcomeUnknown, LeaseStore


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


def fleet(store: Any, db: Any = None, max_servers: int = 2) -> FleetStoreActivities:
    return FleetStoreActivities(
        store, db, max_servers=lambda _provider: max_servers, max_terminations=30
    )


def slot(owner: str) -> SlotInput:
    return SlotInput(owner=owner, ttl_seconds=30, provider="hetzner")


async def test_a_retried_take_returns_the_same_slot(
    env: ActivityEnvironment, store: LeaseStore, mongo_db: Any
) -> None:
    acts = fleet(store, mongo_db)
    first = await env.run(acts.take_quota_slot, slot("wf-a"))
    retry = await env.run(acts.take_quota_slot, slot("wf-a"))

    assert (first.resource, first.owner) == (quota_resource("hetzner"), "wf-a")
    assert first.expires_at > datetime.now(UTC)
    assert retry.token == first.token
    holders = await env.run(
        LeaseActivities(store).lease_holders, LeaseHoldersInput(resource=first.resource)
    )
    assert [h.owner for h in holders] == ["wf-a"]


async def test_a_full_quota_raises_retryable_lease_unavailable_naming_resource_and_limit(
    env: ActivityEnvironment, store: LeaseStore, mongo_db: Any
) -> None:
    acts = fleet(store, mongo_db, max_servers=2)
    await env.run(acts.take_quota_slot, slot("wf-a"))
    await env.run(acts.take_quota_slot, slot("wf-b"))

    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.take_quota_slot, slot("wf-c"))

    assert caught.value.type == "LeaseUnavailable"
    assert not caught.value.non_retryable
    # Waiting is the normal path: the SDK logs benign failures at DEBUG, not WARNING.
    assert caught.value.category == ApplicationErrorCategory.BENIGN
    assert f"all 2 slots of {quota_resource('hetzner')!r}" in caught.value.message


async def test_a_released_termination_slot_is_true_once_then_false(
    env: ActivityEnvironment, store: LeaseStore, mongo_db: Any
) -> None:
    acts = fleet(store, mongo_db)
    taken = await env.run(acts.take_termination_slot, slot("wf-a"))

    assert await env.run(acts.release_termination_slot, taken) is True
    assert await env.run(acts.release_termination_slot, taken) is False


class FailingStore:
    """Stands in for LeaseStore and raises `error` from every call."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    acquire = release = holders = get_limit = _raise


LEASE = Lease(resource="quota", owner="wf-a", token=1, expires_at=datetime(2030, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("connection reset"),
        WriteConcernError("waiting for replication timed out", 64, {}),
        OperationFailure("not primary", 10107),
    ],
    ids=["network", "write-concern", "not-primary"],
)
@pytest.mark.parametrize(
    ("kind", "method", "argument"),
    [
        ("fleet", "take_quota_slot", slot("wf-a")),
        ("fleet", "take_termination_slot", slot("wf-a")),
        ("fleet", "release_termination_slot", LEASE),
        ("leases", "lease_holders", LeaseHoldersInput(resource="quota")),
    ],
)
async def test_transient_mongo_errors_become_retryable_mongo_transient(
    env: ActivityEnvironment, error: Exception, kind: str, method: str, argument: Any
) -> None:
    failing = FailingStore(error)
    acts = fleet(failing) if kind == "fleet" else LeaseActivities(failing)  # type: ignore[arg-type]

    with pytest.raises(ApplicationError) as caught:
        await env.run(getattr(acts, method), argument)

    assert caught.value.type == "MongoTransient"
    assert not caught.value.non_retryable
    # The driver's cause chain is left out (it overflows Temporal's failure size limit);
    # the message names the error instead.
    assert type(error).__name__ in caught.value.message
    assert caught.value.__cause__ is None


async def test_an_ambiguous_take_becomes_a_retryable_lease_outcome_unknown(
    env: ActivityEnvironment,
) -> None:
    unknown = LeaseOutcomeUnknown("acquire", "quota", "wf-a", AutoReconnect("reset"))

    with pytest.raises(ApplicationError) as caught:
        await env.run(fleet(FailingStore(unknown)).take_quota_slot, slot("wf-a"))

    assert caught.value.type == "LeaseOutcomeUnknown"
    assert not caught.value.non_retryable
    assert "do not assume the lease is held" in caught.value.message


async def test_a_permanent_mongo_error_is_not_disguised_as_transient(
    env: ActivityEnvironment,
) -> None:
    error = OperationFailure("not authorized on vultr_lifecycle", 13)

    with pytest.raises(OperationFailure):
        await env.run(fleet(FailingStore(error)).take_quota_slot, slot("wf-a"))


async def test_lease_and_inputs_survive_the_pydantic_data_converter(
    env: ActivityEnvironment, store: LeaseStore, mongo_db: Any
) -> None:
    lease = await env.run(fleet(store, mongo_db).take_quota_slot, slot("wf-a"))
    converter = pydantic_data_converter.payload_converter

    for value, kind in [
        (lease, Lease),
        (slot("wf-a"), SlotInput),
        ([lease], list[Lease]),
    ]:
        payload = converter.to_payloads([value])
        assert converter.from_payloads(payload, [kind]) == [value]
    assert lease.expires_at.utcoffset() == timedelta(0)
