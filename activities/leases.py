"""How the MongoDB lease store's errors reach Temporal, and the one lease read a
workflow makes (who holds a resource). Taking and giving back slots are the fleet
store's activities (activities/fleet_store.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError, WriteConcernError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from leases import (
    Lease,
    LeaseHoldersInput,
    LeaseOutcomeUnknown,
    LeaseStore,
    LeaseStoreBusy,
    is_ambiguous,
)

__all__ = [
    "LEASE_OUTCOME_UNKNOWN",
    "LEASE_STORE_BUSY",
    "LEASE_UNAVAILABLE",
    "MONGO_TRANSIENT",
    "LeaseActivities",
    "mongo_errors",
]

# Error types, for retry policies and for callers that inspect failures.
LEASE_UNAVAILABLE = "LeaseUnavailable"
LEASE_OUTCOME_UNKNOWN = "LeaseOutcomeUnknown"
LEASE_STORE_BUSY = "LeaseStoreBusy"
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
    except LeaseStoreBusy as exc:
        # Expected in a burst and retried with backoff: no traceback in the worker log.
        raise ApplicationError(
            f"{doing}: {exc}",
            type=LEASE_STORE_BUSY,
            category=ApplicationErrorCategory.BENIGN,
        ) from None
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
    """Lease reads sharing one store (and its MongoDB client)."""

    def __init__(self, store: LeaseStore) -> None:
        self._store = store

    @activity.defn
    async def lease_holders(self, input: LeaseHoldersInput) -> list[Lease]:
        with mongo_errors(f"list holders of lease {input.resource!r}"):
            return await self._store.holders(input.resource)
