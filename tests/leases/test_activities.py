"""The lease activities, run with temporalio's ActivityEnvironment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, OperationFailure, WriteConcernError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities.leases import LeaseActivities
from leases import (
    AcquireLeaseInput,
    Lease,
    LeaseHoldersInput,
    LeaseOutcomeUnknown,
    LeaseStore,
    ReleaseAllInput,
    ReleaseLeaseInput,
    RenewLeaseInput,
)


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture
def acts(store: LeaseStore) -> LeaseActivities:
    return LeaseActivities(store)


def acquire_input(owner: str, limit: int = 1, resource: str = "quota") -> AcquireLeaseInput:
    return AcquireLeaseInput(resource=resource, owner=owner, ttl_seconds=30, limit=limit)


async def test_acquire_lease_returns_the_lease(
    env: ActivityEnvironment, acts: LeaseActivities
) -> None:
    lease = await env.run(acts.acquire_lease, acquire_input("wf-a"))

    assert (lease.resource, lease.owner) == ("quota", "wf-a")
    assert lease.expires_at > datetime.now(UTC)


async def test_a_retried_acquire_activity_returns_the_same_slot(
    env: ActivityEnvironment, acts: LeaseActivities
) -> None:
    first = await env.run(acts.acquire_lease, acquire_input("wf-a", limit=2))
    retry = await env.run(acts.acquire_lease, acquire_input("wf-a", limit=2))

    assert retry.token == first.token
    holders = await env.run(acts.lease_holders, LeaseHoldersInput(resource="quota"))
    assert [h.owner for h in holders] == ["wf-a"]


async def test_denied_acquire_raises_retryable_lease_unavailable_naming_resource_and_limit(
    env: ActivityEnvironment, acts: LeaseActivities
) -> None:
    await env.run(acts.acquire_lease, acquire_input("wf-a", limit=2))
    await env.run(acts.acquire_lease, acquire_input("wf-b", limit=2))

    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.acquire_lease, acquire_input("wf-c", limit=2))

    assert caught.value.type == "LeaseUnavailable"
    assert not caught.value.non_retryable
    # Waiting is the normal path: the SDK logs benign failures at DEBUG, not WARNING.
    assert caught.value.category == ApplicationErrorCategory.BENIGN
    assert "'quota'" in caught.value.message and "all 2 slot(s)" in caught.value.message


async def test_renew_lease_extends_and_reports_a_lost_lease_as_none(
    env: ActivityEnvironment, acts: LeaseActivities
) -> None:
    lease = await env.run(acts.acquire_lease, acquire_input("wf-a"))

    renewed = await env.run(acts.renew_lease, RenewLeaseInput(lease=lease, ttl_seconds=60))
    assert renewed is not None and renewed.expires_at > lease.expires_at

    await env.run(acts.release_lease, ReleaseLeaseInput(lease=lease))
    assert await env.run(acts.renew_lease, RenewLeaseInput(lease=lease, ttl_seconds=60)) is None


async def test_release_lease_is_true_once_then_false(
    env: ActivityEnvironment, acts: LeaseActivities
) -> None:
    lease = await env.run(acts.acquire_lease, acquire_input("wf-a"))

    assert await env.run(acts.release_lease, ReleaseLeaseInput(lease=lease)) is True
    assert await env.run(acts.release_lease, ReleaseLeaseInput(lease=lease)) is False


async def test_release_all_leases_frees_every_slot_and_is_safe_to_repeat(
    env: ActivityEnvironment, acts: LeaseActivities
) -> None:
    await env.run(acts.acquire_lease, acquire_input("wf-a", limit=10, resource="quota"))
    await env.run(acts.acquire_lease, acquire_input("wf-a", limit=30, resource="terminations"))
    other = await env.run(acts.acquire_lease, acquire_input("wf-b", limit=10, resource="quota"))

    assert await env.run(acts.release_all_leases, ReleaseAllInput(owner="wf-a")) == 2
    assert await env.run(acts.release_all_leases, ReleaseAllInput(owner="wf-a")) == 0
    assert await env.run(acts.lease_holders, LeaseHoldersInput(resource="quota")) == [other]
    assert await env.run(acts.lease_holders, LeaseHoldersInput(resource="terminations")) == []


class FailingStore:
    """Stands in for LeaseStore and raises `error` from every call."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    acquire = renew = release = release_all = holders = _raise


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
    ("method", "argument"),
    [
        ("acquire_lease", acquire_input("wf-a")),
        ("renew_lease", RenewLeaseInput(lease=LEASE, ttl_seconds=30)),
        ("release_lease", ReleaseLeaseInput(lease=LEASE)),
        ("release_all_leases", ReleaseAllInput(owner="wf-a")),
        ("lease_holders", LeaseHoldersInput(resource="quota")),
    ],
)
async def test_transient_mongo_errors_become_retryable_mongo_transient(
    env: ActivityEnvironment, error: Exception, method: str, argument: Any
) -> None:
    acts = LeaseActivities(FailingStore(error))  # type: ignore[arg-type]

    with pytest.raises(ApplicationError) as caught:
        await env.run(getattr(acts, method), argument)

    assert caught.value.type == "MongoTransient"
    assert not caught.value.non_retryable
    # The driver's cause chain is left out (it overflows Temporal's failure size limit);
    # the message names the error instead.
    assert type(error).__name__ in caught.value.message
    assert caught.value.__cause__ is None


async def test_an_ambiguous_acquire_becomes_a_retryable_lease_outcome_unknown(
    env: ActivityEnvironment,
) -> None:
    unknown = LeaseOutcomeUnknown("acquire", "quota", "wf-a", AutoReconnect("reset"))
    acts = LeaseActivities(FailingStore(unknown))  # type: ignore[arg-type]

    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.acquire_lease, acquire_input("wf-a"))

    assert caught.value.type == "LeaseOutcomeUnknown"
    assert not caught.value.non_retryable
    assert "do not assume the lease is held" in caught.value.message


async def test_a_permanent_mongo_error_is_not_disguised_as_transient(
    env: ActivityEnvironment,
) -> None:
    error = OperationFailure("not authorized on vultr_lifecycle", 13)
    acts = LeaseActivities(FailingStore(error))  # type: ignore[arg-type]

    with pytest.raises(OperationFailure):
        await env.run(acts.acquire_lease, acquire_input("wf-a"))


async def test_lease_and_inputs_survive_the_pydantic_data_converter(
    env: ActivityEnvironment, acts: LeaseActivities
) -> None:
    lease = await env.run(acts.acquire_lease, acquire_input("wf-a"))
    converter = pydantic_data_converter.payload_converter

    for value, kind in [
        (lease, Lease),
        (RenewLeaseInput(lease=lease, ttl_seconds=5), RenewLeaseInput),
        ([lease], list[Lease]),
    ]:
        payload = converter.to_payloads([value])
        assert converter.from_payloads(payload, [kind]) == [value]
    assert lease.expires_at.utcoffset() == timedelta(0)


def test_activities_are_registered_under_their_method_names() -> None:
    from temporalio.activity import _Definition

    names = {
        _Definition.must_from_callable(getattr(LeaseActivities, n)).name
        for n in (
            "acquire_lease",
            "renew_lease",
            "release_lease",
            "release_all_leases",
            "lease_holders",
        )
    }
    assert names == {
        "acquire_lease",
        "renew_lease",
        "release_lease",
        "release_all_leases",
        "lease_holders",
    }
