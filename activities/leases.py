"""Temporal activities over the MongoDB lease store.

Activities run at least once: acquire is idempotent per owner, so a retried attempt
returns the slot the first attempt took instead of taking a second one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError, WriteConcernError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from leases import (
    AcquireLeaseInput,
    Lease,
    LeaseHoldersInput,
    LeaseOutcomeUnknown,
    LeaseStore,
    ReleaseAllInput,
    ReleaseLeaseInput,
    RenewLeaseInput,
    is_ambiguous,
)

__all__ = [
    "LEASE_OUTCOME_UNKNOWN",
    "LEASE_UNAVAILABLE",
    "MONGO_TRANSIENT",
    "LeaseActivities",
    "mongo_errors",
]

# Error types, for retry policies and for callers that inspect failures.
LEASE_UNAVAILABLE = "LeaseUnavailable"
LEASE_OUTCOME_UNKNOWN = "LeaseOutcomeUnknown"
MONGO_TRANSIENT = "MongoTransient"

# Server codes that mean "try again": primary stepping down or unreachable, shutdown,
# interrupted, exceeded time limit, write conflict.
_TRANSIENT_CODES = frozenset(
    {6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}
)


def _is_transient(exc: PyMongoError) -> bool:
    if isinstance(exc, ConnectionFailure | WriteConcernError) or is_ambiguous(exc):
        return True
    if exc.has_error_label("TransientTransactionError"):
        return True
    return isinstance(exc, OperationFailure) and exc.code in _TRANSIENT_CODES


@contextmanager
def mongo_errors(doing: str) -> Iterator[None]:
    """Transient MongoDB failures and ambiguous lease writes become retryable errors."""
    try:
        yield
    # `from None` and a bounded message: a failure with the whole driver cause chain
    # exceeds Temporal's size limit and the UI would show no reason at all.
    except LeaseOutcomeUnknown as exc:
        raise ApplicationError(f"{doing}: {_short(exc)}", type=LEASE_OUTCOME_UNKNOWN) from None
    except PyMongoError as exc:
        if not _is_transient(exc):
            raise
        raise ApplicationError(
            f"{doing}: MongoDB is unavailable or did not confirm the write "
            f"({type(exc).__name__}: {_short(exc)}); retrying is safe",
            type=MONGO_TRANSIENT,
        ) from None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


class LeaseActivities:
    """Lease activities sharing one store (and its MongoDB client)."""

    def __init__(self, store: LeaseStore) -> None:
        self._store = store

    @activity.defn
    async def acquire_lease(self, input: AcquireLeaseInput) -> Lease:
        """A slot of `input.resource`; raises a retryable LeaseUnavailable when all
        slots (the stored limit) are held, so the workflow's retry policy does the waiting."""
        doing = f"acquire lease {input.resource!r} for {input.owner!r}"
        with mongo_errors(doing):
            lease = await self._store.acquire(
                input.resource, input.owner, timedelta(seconds=input.ttl_seconds), input.limit
            )
        if lease is None:
            with mongo_errors(f"read the limit of lease {input.resource!r}"):
                limit = await self._store.get_limit(input.resource) or input.limit
            raise ApplicationError(
                f"lease {input.resource!r} is unavailable: all {limit} slot(s) are held "
                f"by other owners; the activity retries until one is released or expires",
                {"resource": input.resource, "limit": limit},
                type=LEASE_UNAVAILABLE,
                category=ApplicationErrorCategory.BENIGN,
            )
        return lease

    @activity.defn
    async def renew_lease(self, input: RenewLeaseInput) -> Lease | None:
        """The renewed lease, or None when it is no longer held (stop using it)."""
        with mongo_errors(f"renew lease {input.lease.resource!r} for {input.lease.owner!r}"):
            return await self._store.renew(input.lease, timedelta(seconds=input.ttl_seconds))

    @activity.defn
    async def release_lease(self, input: ReleaseLeaseInput) -> bool:
        """True if the lease was held and is now released; False if it was not held."""
        with mongo_errors(f"release lease {input.lease.resource!r} for {input.lease.owner!r}"):
            return await self._store.release(input.lease)

    @activity.defn
    async def release_all_leases(self, input: ReleaseAllInput) -> int:
        """Release every lease `input.owner` holds; safe to repeat. Returns how many
        resources changed."""
        with mongo_errors(f"release all leases of {input.owner!r}"):
            return await self._store.release_all(input.owner)

    @activity.defn
    async def lease_holders(self, input: LeaseHoldersInput) -> list[Lease]:
        with mongo_errors(f"list holders of lease {input.resource!r}"):
            return await self._store.holders(input.resource)
