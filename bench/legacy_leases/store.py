"""The former lease store: one document per resource, its holders in one array.

One document per resource, one round trip per operation, every decision taken by the
server with its own clock (see `pipelines`). Writes use write concern majority by
default: on a replica set, a lease acknowledged by a single node can be lost in a
failover and granted again to someone else.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    PyMongoError,
    WriteConcernError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from bench.legacy_leases.pipelines import (
    acquire_pipeline,
    fenced_write_pipeline,
    live_holders_expr,
    release_all_pipeline,
    release_filter,
    release_pipeline,
    renew_filter,
    renew_pipeline,
)
from leases.errors import LeaseOutcomeUnknown
from leases.metrics import LeaseMetrics, LeaseOperation, LeaseOutcome, NoopLeaseMetrics
from leases.models import Lease

__all__ = ["DEFAULT_GC_GRACE", "DEFAULT_WRITE_CONCERN", "LeaseStore", "is_ambiguous"]

log = logging.getLogger(__name__)

DEFAULT_GC_GRACE = timedelta(days=7)
# j=True is what mongod does for majority writes anyway; SecantusDB acknowledges
# majority writes before its journal reaches the disk unless asked, and a SIGKILL then
# loses granted leases (and their fence) that were already acknowledged.
DEFAULT_WRITE_CONCERN = WriteConcern("majority", j=True)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Concurrent first inserts of one resource can both try to upsert; mongod retries that
# itself in most cases, but a driver may still see the duplicate key or an empty reply.
_UPSERT_ATTEMPTS = 3


def is_ambiguous(exc: BaseException) -> bool:
    """Whether a failed write may nevertheless have been applied."""
    if isinstance(exc, ConnectionFailure | WriteConcernError):
        return True
    if isinstance(exc, PyMongoError):
        return exc.timeout or exc.has_error_label("RetryableWriteError")
    return False


def _ms(value: timedelta, name: str) -> int:
    ms = int(value / timedelta(milliseconds=1))
    if ms <= 0:
        raise ValueError(f"{name} must be at least 1 ms, got {value!r}")
    return ms


def _at(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


class _NoDocumentReturned(ConnectionFailure):
    """Upserts kept replying without a document: the outcome is unknown until read back."""

    def __init__(self, doc_id: Any) -> None:
        super().__init__(f"upsert of document {doc_id!r} returned no document")


def _check_names(resource: str, owner: str) -> None:
    if not resource:
        raise ValueError("resource must be a non-empty string")
    if not owner:
        raise ValueError("owner must be a non-empty string")


class LeaseStore:
    """Leases (limit=1) and semaphores (limit=N) on one MongoDB collection.

    The client must have retryable writes on (pymongo's default) and should be created
    with `tz_aware=True`. `write_concern` defaults to majority and journaled; with
    anything less on a replica set, a failover can hand one lease to two holders.
    `gc_grace` is how long after the last expiry (and after the fence, read as epoch ms)
    the TTL index may delete an abandoned resource document.
    """

    def __init__(
        self,
        db: AsyncDatabase[Any],
        collection: str = "leases",
        *,
        write_concern: WriteConcern | None = None,
        metrics: LeaseMetrics | None = None,
        gc_grace: timedelta = DEFAULT_GC_GRACE,
    ) -> None:
        if not db.client.options.retry_writes:
            raise ValueError(
                "the lease store needs retryable writes: create the client with "
                "retryWrites=true (the default) so a dropped connection is retried safely"
            )
        self._wc = write_concern or DEFAULT_WRITE_CONCERN
        self._db = db
        self._leases: AsyncCollection[Any] = db.get_collection(
            collection, write_concern=self._wc, read_concern=ReadConcern("majority")
        )
        self._metrics: LeaseMetrics = metrics or NoopLeaseMetrics()
        self._grace_ms = _ms(gc_grace, "gc_grace")

    @property
    def collection(self) -> AsyncCollection[Any]:
        return self._leases

    async def ensure_indexes(self) -> None:
        # TTL is garbage collection only: gc_after is set past every expiry and the
        # fence plus gc_grace, so it never removes a live lease or lets a token repeat.
        await self._leases.create_index("gc_after", expireAfterSeconds=0, name="gc_after_ttl")
        await self._leases.create_index("holders.owner", name="holders_owner")

    # -- leases ------------------------------------------------------------------------

    async def acquire(
        self, resource: str, owner: str, ttl: timedelta, limit: int = 1
    ) -> Lease | None:
        """A slot of `resource` for `owner`, or None when `limit` holders are live.

        Idempotent per owner: if `owner` already holds a live slot, that same holding is
        returned (same token) with its expiry extended. Raises LeaseOutcomeUnknown when
        the write's outcome is ambiguous and reading back did not show it applied.
        """
        _check_names(resource, owner)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        op = ObjectId()
        pipeline = acquire_pipeline(owner, _ms(ttl, "ttl"), limit, op, self._grace_ms)
        started = time.perf_counter()
        try:
            doc = await self._upsert(self._leases, resource, pipeline)
        except PyMongoError as exc:
            if not is_ambiguous(exc):
                self._observe("acquire", "error", started)
                raise
            lease = await self._read_back(resource, owner, None, "acquire", exc, started)
            if lease is None:
                self._observe("acquire", "unknown", started)
                raise LeaseOutcomeUnknown("acquire", resource, owner, exc) from exc
            self._observe("acquire", "acquired", started)
            return lease
        grant = doc.get("last_grant") or {}
        lease = _holding(doc, resource, owner) if grant.get("op") == op else None
        if lease is None:
            self._observe("acquire", "denied", started)
            self._call(self._metrics.denied, resource, limit)
            return None
        if grant.get("fresh") and grant.get("took_over"):
            self._call(self._metrics.takeover, resource)
        self._observe("acquire", "acquired" if grant.get("fresh") else "reacquired", started)
        return lease

    async def acquire_wait(
        self,
        resource: str,
        owner: str,
        ttl: timedelta,
        limit: int = 1,
        *,
        # Not asyncio.timeout: cancelling an acquire in flight could leave a slot taken
        # that the caller never learns about; the deadline is checked between attempts.
        timeout: timedelta,  # noqa: ASYNC109
        initial_delay: timedelta = timedelta(milliseconds=50),
        max_delay: timedelta = timedelta(milliseconds=500),
    ) -> Lease | None:
        """Like `acquire`, retrying with jittered exponential backoff until `timeout`.

        Each wait is between half and all of the current delay, which doubles up to
        `max_delay` (the longest gap between two attempts). Returns None at the timeout.
        """
        deadline = time.monotonic() + timeout.total_seconds()
        delay = initial_delay.total_seconds()
        cap = max(max_delay.total_seconds(), delay)
        while True:
            lease = await self.acquire(resource, owner, ttl, limit)
            if lease is not None:
                return lease
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # Half fixed, half random: spreads contenders without near-zero waits.
            await asyncio.sleep(min(remaining, delay / 2 + random.uniform(0, delay / 2)))
            delay = min(cap, delay * 2)

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        """The same holding with expiry `now + ttl` (server time), or None if it is no
        longer live: released, expired (even if nobody took it yet) or taken over.

        After an ambiguous write the holding is read back, so the expiry returned may be
        the one from before this renew: always trust the returned `expires_at`."""
        ttl_ms = _ms(ttl, "ttl")
        started = time.perf_counter()
        try:
            doc = await self._leases.find_one_and_update(
                renew_filter(lease.resource, lease.owner, lease.token),
                renew_pipeline(lease.owner, lease.token, ttl_ms, self._grace_ms),
                return_document=ReturnDocument.AFTER,
            )
        except PyMongoError as exc:
            if not is_ambiguous(exc):
                self._observe("renew", "error", started)
                raise
            # Reading back the majority-committed state: a holding seen there is
            # durable; one not seen is reported lost, which only makes the caller stop.
            renewed = await self._read_back(
                lease.resource, lease.owner, lease.token, "renew", exc, started
            )
            self._observe("renew", "renewed" if renewed else "lost", started)
            return renewed
        renewed = _holding(doc, lease.resource, lease.owner, lease.token)
        self._observe("renew", "renewed" if renewed else "lost", started)
        return renewed

    async def release(self, lease: Lease) -> bool:
        """Give the slot back. True if it was live and is now released; False if it was
        not held any more (already released, expired or taken over): a harmless no-op."""
        started = time.perf_counter()
        try:
            result = await self._leases.update_one(
                release_filter(lease.resource, lease.owner, lease.token),
                release_pipeline(lease.owner, lease.token),
            )
        except PyMongoError as exc:
            if not is_ambiguous(exc):
                self._observe("release", "error", started)
                raise
            still = await self._read_back(
                lease.resource, lease.owner, lease.token, "release", exc, started
            )
            if still is not None:
                self._observe("release", "unknown", started)
                raise LeaseOutcomeUnknown("release", lease.resource, lease.owner, exc) from exc
            # Not held either way: this call or an earlier one released it, or it expired.
            self._observe("release", "released", started)
            return True
        released = result.matched_count == 1
        self._observe("release", "released" if released else "not_held", started)
        return released

    async def release_all(self, owner: str) -> int:
        """Drop every holding of `owner` on every resource; safe to repeat.

        Returns how many resource documents changed (0 on a repeat).
        """
        if not owner:
            raise ValueError("owner must be a non-empty string")
        result = await self._leases.update_many(
            {"holders.owner": owner}, release_all_pipeline(owner)
        )
        return result.modified_count

    async def holders(self, resource: str) -> list[Lease]:
        """The live holders of `resource`, judged by the server's clock."""
        cursor = await self._leases.aggregate(
            [{"$match": {"_id": resource}}, {"$project": {"holders": live_holders_expr()}}]
        )
        docs = await cursor.to_list()
        if not docs:
            return []
        return [
            Lease(
                resource=resource,
                owner=h["owner"],
                token=int(h["token"]),
                expires_at=_at(int(h["expires_ms"])),
            )
            for h in docs[0].get("holders") or []
        ]

    async def is_current(self, lease: Lease) -> bool:
        """Whether `lease` (owner and token) is live right now by the server's clock."""
        return any(
            h.owner == lease.owner and h.token == lease.token
            for h in await self.holders(lease.resource)
        )

    # -- fenced writes to other collections ---------------------------------------------

    async def fenced_write(
        self,
        collection: AsyncCollection[Any] | str,
        doc_id: Any,
        fields: Mapping[str, Any],
        fence: int,
        *,
        fence_field: str = "fence",
    ) -> bool:
        """Upsert top-level `fields` into document `doc_id` unless it carries a fence
        larger than `fence`; the document's fence becomes `fence`. One atomic round trip.

        Returns False when a newer fence already wrote the document. Equal fences are
        accepted, so a retried attempt of the same holder may write again.
        """
        for key in fields:
            if not key or key.startswith("$") or "." in key or key in ("_id", fence_field):
                raise ValueError(
                    f"field {key!r} cannot be written with a fence: use top-level names "
                    f"other than _id and {fence_field!r}, without '$' or '.'"
                )
        coll = self._db.get_collection(collection) if isinstance(collection, str) else collection
        coll = coll.with_options(write_concern=self._wc)
        doc = await self._upsert(
            coll,
            doc_id,
            fenced_write_pipeline(dict(fields), fence, fence_field),
            projection={fence_field: 1},
        )
        return bool(doc.get(fence_field) == fence)

    async def write_if_current(
        self,
        lease: Lease,
        collection: AsyncCollection[Any] | str,
        doc_id: Any,
        fields: Mapping[str, Any],
        *,
        fence_field: str = "fence",
    ) -> bool:
        """`fenced_write` with `lease.token`, only if `lease` is still live.

        Two round trips: the check, then the fenced write. A lease that expires between
        them may still write once, but never over a document already written with a newer
        token: the fence on the document, not the check, is what protects it.
        """
        if not await self.is_current(lease):
            return False
        return await self.fenced_write(
            collection, doc_id, fields, lease.token, fence_field=fence_field
        )

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    async def _upsert(
        coll: AsyncCollection[Any],
        doc_id: Any,
        pipeline: list[dict[str, Any]],
        projection: Mapping[str, Any] | None = None,
    ) -> Any:
        """Upsert with a pipeline and return the document after it. Only for updates that
        are safe to repeat: acquire (idempotent per owner) and fenced writes (an equal
        fence writes the same fields again)."""
        for _ in range(_UPSERT_ATTEMPTS):
            try:
                doc = await coll.find_one_and_update(
                    {"_id": doc_id},
                    pipeline,
                    projection=projection,
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue  # lost a concurrent first insert; the document exists now
            # An upsert always leaves a document, so an empty reply says nothing about
            # what happened. (SecantusDB answers so to the losers of a concurrent first
            # insert, after applying their update.)
            if doc is not None:
                return doc
        raise _NoDocumentReturned(doc_id)

    async def _read_back(
        self,
        resource: str,
        owner: str,
        token: int | None,
        operation: LeaseOperation,
        cause: BaseException,
        started: float,
    ) -> Lease | None:
        """The owner's live holding in the majority-committed state, or None.

        Raises LeaseOutcomeUnknown when the read itself fails.
        """
        try:
            live = await self.holders(resource)
        except PyMongoError as exc:
            self._observe(operation, "unknown", started)
            raise LeaseOutcomeUnknown(operation, resource, owner, cause) from exc
        log.warning(
            "ambiguous %s on lease %r for %r (%s); read back %d live holders",
            operation,
            resource,
            owner,
            type(cause).__name__,
            len(live),
        )
        for held in live:
            if held.owner == owner and (token is None or held.token == token):
                return held
        return None

    def _observe(self, operation: LeaseOperation, outcome: LeaseOutcome, started: float) -> None:
        self._call(self._metrics.observe, operation, outcome, time.perf_counter() - started)

    @staticmethod
    def _call(hook: Any, *args: Any) -> None:
        # A broken metrics hook must never change a lease outcome.
        try:
            hook(*args)
        except Exception:  # noqa: BLE001
            log.exception("lease metrics hook %r failed", hook)


def _holding(
    doc: Mapping[str, Any] | None, resource: str, owner: str, token: int | None = None
) -> Lease | None:
    """The holding of `owner` (with `token`, if given) recorded in a lease document."""
    for h in (doc or {}).get("holders") or []:
        if h.get("owner") == owner and (token is None or h.get("token") == token):
            return Lease(
                resource=resource,
                owner=owner,
                token=int(h["token"]),
                expires_at=_at(int(h["expires_ms"])),
            )
    return None
