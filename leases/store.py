"""The MongoDB lease store: leases and semaphores with fencing tokens.

A resource is N slot documents (see `pipelines`); acquire, renew and release each
touch one slot in one round trip, with every decision taken by the server on its own
clock. The limit N is stored in the resource's own document and changed only by
`set_limit`; a caller's `limit` is the default used when none is stored yet. Writes
use write concern majority by default: on a replica set, a lease acknowledged by a
single node can be lost in a failover and granted again to someone else. Every call
is bounded on the server and the client by `op_timeout` (pymongo's `timeoutMS`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
from bson import Int64, ObjectId
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from leases.errors import LeaseOutcomeUnknown, LeaseStoreBusy
from leases.metrics import LeaseMetrics, LeaseOperation, LeaseOutcome, NoopLeaseMetrics
from leases.models import Lease
from leases.pipelines import (
    SLOT_SPACE,
    expired_expr,
    fenced_write_pipeline,
    free_filter,
    grant_pipeline,
    live_expr,
    live_filter,
    live_stages,
    own_filter,
    pick_filter,
    release_pipeline,
    renew_pipeline,
    slot_id,
)

__all__ = [
    "DEFAULT_GC_GRACE",
    "DEFAULT_OP_TIMEOUT",
    "DEFAULT_WRITE_CONCERN",
    "MAX_LIMIT",
    "LeaseStore",
    "is_ambiguous",
]

log = logging.getLogger(__name__)

DEFAULT_GC_GRACE = timedelta(days=7)
# Below the 15 s start-to-close of the MongoDB activities, read-back included, so an
# attempt Temporal gave up on has stopped running on the server too.
DEFAULT_OP_TIMEOUT = timedelta(seconds=5)
# j=True is what mongod does for majority writes anyway; SecantusDB acknowledges
# majority writes before its journal reaches the disk unless asked, and a SIGKILL then
# loses granted leases (and their fence) that were already acknowledged.
DEFAULT_WRITE_CONCERN = WriteConcern("majority", j=True)
# Lease calls one process sends at once. A burst of thousands of acquires sent together
# waits in the driver's pool or the server's queue, and that wait counts against each
# call's timeout: most time out and are retried, so the server does the work twice. A
# call waits here instead, before its timeout starts.
DEFAULT_MAX_IN_FLIGHT = 32
MAX_LIMIT = SLOT_SPACE - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UPSERT_ATTEMPTS = 3
# How long a process trusts that a resource's slots exist before it checks again on a
# refusal (slots unused for gc_grace are garbage-collected).
_SLOTS_RECHECK_S = 60.0
# Slots are created as they are needed, not up to the limit: a resource starts with
# this many and doubles when every existing one is live, so a large quota costs
# documents only for the holders it has had (every operation on an embedded server
# grows with the collection's size).
_FIRST_SLOTS = 16
# Slot documents created per write (each write is bounded).
_SLOT_BATCH = 250
# A grant tries this many slot numbers first once a process knows more slots than
# _PROBE_FROM, then any free slot.
_PROBES = 8
_PROBE_FROM = 64
# When the probes miss, the free slot taken is the highest numbered (see _learn).
_HIGHEST = (("i", -1),)


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


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


class _NoDocumentReturned(ConnectionFailure):
    """Upserts kept replying without a document: the outcome is unknown until read back."""

    def __init__(self, doc_id: Any) -> None:
        super().__init__(f"upsert of document {doc_id!r} returned no document")


def _check_names(resource: str, owner: str) -> None:
    if not resource:
        raise ValueError("resource must be a non-empty string")
    if not owner:
        raise ValueError("owner must be a non-empty string")


def _only_duplicates(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors") or []
    return bool(errors) and all(e.get("code") == 11000 for e in errors)


class LeaseStore:
    """Leases (limit 1) and semaphores (limit N) on one MongoDB collection.

    The client must have retryable writes on (pymongo's default) and should be created
    with `tz_aware=True`. `write_concern` defaults to majority and journaled; with
    anything less on a replica set, a failover can hand one lease to two holders.
    `gc_grace` is how long after a slot's last expiry the TTL index may delete it.
    `op_timeout` bounds each MongoDB call (and separately, the read-back after an
    ambiguous one). `max_in_flight` calls of this store (lease calls and fenced writes)
    run at once; another waits up to half `op_timeout` for one to finish, else raises
    LeaseStoreBusy without sending anything. Keep 2.5 x `op_timeout` below the calling activity's
    start-to-close timeout.
    """

    def __init__(
        self,
        db: AsyncDatabase[Any],
        collection: str = "leases",
        *,
        write_concern: WriteConcern | None = None,
        metrics: LeaseMetrics | None = None,
        gc_grace: timedelta = DEFAULT_GC_GRACE,
        op_timeout: timedelta = DEFAULT_OP_TIMEOUT,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
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
        self._timeout = _ms(op_timeout, "op_timeout") / 1000
        # resource -> monotonic time its slots were last made sure of by this process
        self._ready: dict[str, float] = {}
        # resource -> (stored limit, slots 0..n-1 known to exist), as this process last saw
        self._slots: dict[str, tuple[int, int]] = {}
        # resource -> held while this process makes or grows its slots, so that the
        # refusals of many concurrent acquires grow it once, not once each
        self._making: dict[str, asyncio.Lock] = {}
        self._random = random.Random()
        self._indexed = False
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self._max_in_flight = max_in_flight
        self._in_flight = asyncio.Semaphore(max_in_flight)

    @property
    def collection(self) -> AsyncCollection[Any]:
        return self._leases

    def _bounded(self) -> Any:
        return pymongo.timeout(self._timeout)

    @asynccontextmanager
    async def _admitted(self, operation: str, resource: str) -> AsyncIterator[None]:
        """One of the `max_in_flight` calls of this store, or LeaseStoreBusy. The wait is
        before the call's own timeout starts, so a burst queues here, not in the driver's
        pool or the server's, where it would time out and be retried twice over."""
        wait = self._timeout / 2
        try:
            await asyncio.wait_for(self._in_flight.acquire(), wait)
        except TimeoutError:
            raise LeaseStoreBusy(operation, resource, self._max_in_flight, wait) from None
        try:
            yield
        finally:
            self._in_flight.release()

    async def ensure_indexes(self) -> None:
        """Create the indexes and move resources kept in the former one-document form
        (a `holders` array) to slot documents; safe to repeat."""
        await self._create_indexes()
        with self._bounded():
            old = await self._leases.find({"holders": {"$exists": True}}).to_list()
        for doc in old:
            await self._migrate(doc)

    async def _create_indexes(self) -> None:
        if self._indexed:
            return
        with self._bounded():
            # TTL is garbage collection only: gc_after is past the slot's expiry plus
            # gc_grace, and tokens are seeded from the clock, so none ever repeats.
            await self._leases.create_index("gc_after", expireAfterSeconds=0, name="gc_after_ttl")
            # What keeps an owner to one slot per resource, so it is created before
            # this store's first grant rather than left to the caller. Sparse: the
            # resources' own documents have neither field.
            await self._leases.create_index(
                [("res", 1), ("owner", 1)], unique=True, sparse=True, name="res_owner"
            )
            await self._leases.create_index([("res", 1), ("expires_ms", 1)], name="res_expiry")
            await self._leases.create_index(
                [("res", 1), ("retired", 1), ("expires_ms", 1), ("i", 1)], name="res_free"
            )
            await self._leases.create_index("owner", sparse=True, name="owner")
        self._indexed = True

    # -- limits ------------------------------------------------------------------------

    async def get_limit(self, resource: str) -> int | None:
        """The stored limit of `resource`, or None when no caller has used it yet."""
        with self._bounded():
            doc = await self._leases.find_one({"_id": resource}, {"limit": 1})
        limit = (doc or {}).get("limit")
        return int(limit) if limit is not None else None

    async def set_limit(self, resource: str, limit: int) -> int:
        """Store `limit` for `resource`; from now on it is what every acquire obeys,
        whatever default callers pass. Shrinking retires the slots above it: their
        holders keep (and may renew) them, but once given back or expired they are
        never granted again, so the holders fall to the new limit as they leave and
        until then the count may stay above it (nobody running is cut off).

        Returns the stored limit (another concurrent set_limit may have won)."""
        if not resource:
            raise ValueError("resource must be a non-empty string")
        _check_limit(limit)
        await self._create_indexes()
        await self._migrate_resource(resource)
        with self._bounded():
            await self._leases.update_one(
                {"_id": resource},
                {"$set": {"limit": limit}, "$unset": {"gc_after": ""}},
                upsert=True,
            )
        await self._create_slots(resource, 0, min(limit, _FIRST_SLOTS))
        with self._bounded():
            await self._leases.update_many(
                {"res": resource, "i": {"$lt": limit}, "retired": True},
                {"$set": {"retired": False}},
            )
        stored = await self._retire_above_stored(resource)
        self._ready[resource] = time.monotonic()
        self._slots[resource] = (stored, min(stored, _FIRST_SLOTS))
        return stored

    async def _prepare(self, resource: str, default: int) -> None:
        """Make sure `resource` has a stored limit (`default` if none) and its slots."""
        await self._create_indexes()
        await self._migrate_resource(resource)
        with self._bounded():
            try:
                # Only a resource without a stored limit takes the default; it is
                # garbage-collected with its slots, an explicit set_limit is kept.
                await self._leases.update_one(
                    {"_id": resource, "limit": {"$exists": False}},
                    [
                        {
                            "$set": {
                                "limit": default,
                                "gc_after": {"$add": ["$$NOW", Int64(self._grace_ms)]},
                            }
                        }
                    ],
                    upsert=True,
                )
            except DuplicateKeyError:
                pass  # the limit is stored already
            doc = await self._leases.find_one({"_id": resource}, {"limit": 1})
        limit = int((doc or {}).get("limit") or default)
        await self._create_slots(resource, 0, min(limit, _FIRST_SLOTS))
        stored = await self._retire_above_stored(resource)
        self._ready[resource] = time.monotonic()
        self._slots[resource] = (stored, min(stored, _FIRST_SLOTS))

    async def _make_ready(self, resource: str, default: int, older_than: float | None) -> None:
        """`_prepare` once per process at a time: unless `resource` was made ready
        since (or, with `older_than`, within that many seconds)."""
        async with self._making.setdefault(resource, asyncio.Lock()):
            ready = self._ready.get(resource)
            if ready is None or (older_than is not None and time.monotonic() - ready > older_than):
                await self._prepare(resource, default)

    async def _grow(self, resource: str) -> bool:
        """After a refusal: double the resource's slots, up to its stored limit.
        False when it already has them all (the refusal stands)."""
        _limit, seen = self._slots[resource]
        async with self._making.setdefault(resource, asyncio.Lock()):
            limit, have = self._slots[resource]
            if have > seen:
                return True  # grown while this call waited: its new slots are to try
            if have >= limit:
                return False
            grown = min(limit, 2 * have)
            await self._create_slots(resource, have, grown)
            # Read after our own inserts, like set_limit: a shrink that raced them
            # retires what was created above it.
            stored = await self._retire_above_stored(resource)
            self._slots[resource] = (stored, min(stored, grown))
        return True

    async def _create_slots(self, resource: str, first: int, end: int) -> None:
        """Insert the free slots first..end-1 that do not exist yet; existing ones are
        left alone. In batches, each under its own bound."""
        for start in range(first, end, _SLOT_BATCH):
            with self._bounded():
                await self._create_slot_range(resource, start, min(start + _SLOT_BATCH, end))

    async def _create_slot_range(self, resource: str, first: int, end: int) -> None:
        # Plain inserts, not upserts by _id: an embedded server looks a compound _id
        # up by scanning. A duplicate is a slot that exists already.
        docs = [
            {
                "_id": slot_id(resource, i),
                "res": resource,
                "i": i,
                "owner": i,
                "token": Int64(0),
                "fence": Int64(0),
                "expires_ms": Int64(0),
                "retired": False,
            }
            for i in range(first, end)
        ]
        try:
            await self._leases.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if not _only_duplicates(exc):
                raise  # a concurrent creator inserted some first: fine

    async def _retire_above_stored(self, resource: str) -> int:
        # Read after our own writes: a concurrent set_limit either wrote before this
        # read (we retire by its value) or retires after its write (our slots too).
        with self._bounded():
            doc = await self._leases.find_one({"_id": resource}, {"limit": 1})
            stored = int((doc or {}).get("limit") or 0)
            await self._leases.update_many(
                {"res": resource, "i": {"$gte": stored}, "retired": {"$ne": True}},
                {"$set": {"retired": True}},
            )
        return stored

    async def _migrate_resource(self, resource: str) -> None:
        with self._bounded():
            doc = await self._leases.find_one({"_id": resource, "holders": {"$exists": True}})
        if doc is not None:
            await self._migrate(doc)

    async def _migrate(self, doc: Mapping[str, Any]) -> None:
        """Move a one-document resource's holders into slots 0..k-1, tokens and expiry
        unchanged, so they renew as before and count against the limit. Slots are
        only inserted, never overwritten: a repeat after a crash changes nothing."""
        resource = doc["_id"]
        fence = int(doc.get("fence") or 0)
        ops = [
            UpdateOne(
                {"_id": slot_id(resource, i)},
                {
                    "$setOnInsert": {
                        "res": resource,
                        "i": i,
                        "owner": h["owner"],
                        "token": Int64(h["token"]),
                        "fence": Int64(max(fence, int(h["token"]))),
                        "expires_ms": Int64(h["expires_ms"]),
                        "retired": False,
                        "gc_after": _at(int(h["expires_ms"]) + self._grace_ms),
                    }
                },
                upsert=True,
            )
            for i, h in enumerate(doc.get("holders") or [])
        ]
        with self._bounded():
            if ops:
                try:
                    await self._leases.bulk_write(ops, ordered=False)
                except BulkWriteError as exc:
                    if not _only_duplicates(exc):
                        raise
            await self._leases.update_one(
                {"_id": resource},
                {"$unset": {"holders": "", "last_grant": "", "fence": "", "gc_after": ""}},
            )
        log.info("moved lease %r to slot documents (%d holders)", resource, len(ops))

    # -- leases ------------------------------------------------------------------------

    async def acquire(
        self, resource: str, owner: str, ttl: timedelta, limit: int = 1
    ) -> Lease | None:
        """A slot of `resource` for `owner`, or None when every slot is live.

        `limit` is only the default stored when `resource` has no limit yet; the stored
        one (see `set_limit`) is what counts, so callers that disagree never admit more
        than it. Idempotent per owner: if `owner` already holds a live slot, that same
        holding is returned (same token) with its expiry extended. Raises
        LeaseOutcomeUnknown when the write's outcome is ambiguous and reading back did
        not show it applied.
        """
        _check_names(resource, owner)
        _check_limit(limit)
        ttl_ms = _ms(ttl, "ttl")
        async with self._admitted("acquire", resource):
            return await self._acquire(resource, owner, ttl_ms, limit)

    async def _acquire(self, resource: str, owner: str, ttl_ms: int, limit: int) -> Lease | None:
        started = time.perf_counter()
        try:
            if resource not in self._ready:
                await self._make_ready(resource, limit, None)
            doc, op = await self._grant(resource, owner, ttl_ms)
            if doc is None and time.monotonic() - self._ready[resource] > _SLOTS_RECHECK_S:
                await self._make_ready(resource, limit, _SLOTS_RECHECK_S)
                doc, op = await self._grant(resource, owner, ttl_ms)
            while doc is None and await self._grow(resource):
                doc, op = await self._grant(resource, owner, ttl_ms)
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
        if doc is not None:
            self._learn(resource, doc.get("i"))
        grant = (doc or {}).get("last_grant") or {}
        if doc is None or grant.get("op") != op:
            self._observe("acquire", "denied", started)
            self._call(self._metrics.denied, resource, limit)
            return None
        if grant.get("fresh") and grant.get("took_over"):
            self._call(self._metrics.takeover, resource)
        self._observe("acquire", "acquired" if grant.get("fresh") else "reacquired", started)
        return _lease(doc)

    async def _take(
        self,
        query: Mapping[str, Any],
        pipeline: list[dict[str, Any]],
        sort: tuple[tuple[str, int], ...] | None = None,
    ) -> Any:
        """The slot `query` matches, after `pipeline` granted it; None if none matches."""
        return await self._leases.find_one_and_update(
            query, pipeline, sort=list(sort) if sort else None, return_document=ReturnDocument.AFTER
        )

    def _learn(self, resource: str, slot: Any) -> None:
        """Slot number `slot` exists, so another process may have grown the slots past
        what this one knows. Slots are made in doubling ranges from _FIRST_SLOTS, so
        the whole range holding `slot` was made: probes then cover it, not only a
        range that is all held, which leaves each grant to the search of every free
        slot (a missing one only makes a probe miss; the recheck re-creates it)."""
        limit, known = self._slots.get(resource, (0, 0))
        if not isinstance(slot, int) or not known <= slot < limit:
            return
        through = _FIRST_SLOTS
        while through <= slot:
            through *= 2
        self._slots[resource] = (limit, min(limit, through))

    async def _grant(self, resource: str, owner: str, ttl_ms: int) -> tuple[Any, ObjectId]:
        """One findAndModify in the common case: a free slot, found by index. An owner
        that holds a slot already is refused it by the unique (res, owner) index and
        gets its own. With none free, (None, op) while this process knows of fewer
        slots than the limit, for the caller to grow them; at the limit, the owner's
        own or an expired one (a search an index cannot narrow to a few slots)."""
        op = ObjectId()
        pipeline = grant_pipeline(owner, ttl_ms, op, self._grace_ms)
        limit, known = self._slots.get(resource, (0, 0))
        for _ in range(_UPSERT_ATTEMPTS):
            try:
                with self._bounded():
                    doc = None
                    if known > _PROBE_FROM:
                        # A few slots by number first: a server that reads every free
                        # slot it matches (SecantusDB) then reads a few, not hundreds.
                        among = self._random.sample(range(known), _PROBES)
                        doc = await self._take(free_filter(resource, among), pipeline)
                        if doc is None:
                            # Every probe held: this process may know fewer slots than
                            # exist (another grew them). The highest free one tells it
                            # how many there are (_learn), so its next probes cover them.
                            doc = await self._take(free_filter(resource), pipeline, _HIGHEST)
                    if doc is None:
                        doc = await self._take(free_filter(resource), pipeline)
                    if doc is None and known < limit:
                        # Growing makes free slots; an owner that holds one meets it
                        # again through the unique index when it takes a new one.
                        return None, op
                    if doc is None:
                        doc = await self._take(pick_filter(resource, owner), pipeline)
                if doc is not None:
                    return doc, op
            except DuplicateKeyError:
                pass  # a free slot was picked while the owner still has one of its own
            else:
                # None free: only a live holding in a retired slot can still be the
                # owner's (refusals pay this second round trip, grants do not).
                with self._bounded():
                    doc = await self._leases.find_one_and_update(
                        own_filter(resource, owner),
                        pipeline,
                        return_document=ReturnDocument.AFTER,
                    )
                return doc, op
            with self._bounded():
                doc = await self._leases.find_one_and_update(
                    own_filter(resource, owner), pipeline, return_document=ReturnDocument.AFTER
                )
                if doc is not None:
                    return doc, op
                # Its own slot is retired and expired (the limit shrank): free it so
                # the unique index lets the owner take another.
                freed = await self._leases.update_one(
                    {"res": resource, "owner": owner, "retired": True, "$expr": expired_expr()},
                    release_pipeline(),
                )
            if not freed.modified_count:
                return None, op
        return None, op

    async def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        """The same holding with expiry `now + ttl` (server time), or None if it is no
        longer live: released, expired (even if nobody took it yet) or taken over.

        After an ambiguous write the holding is read back, so the expiry returned may be
        the one from before this renew: always trust the returned `expires_at`."""
        ttl_ms = _ms(ttl, "ttl")
        async with self._admitted("renew", lease.resource):
            return await self._renew(lease, ttl_ms)

    async def _renew(self, lease: Lease, ttl_ms: int) -> Lease | None:
        started = time.perf_counter()
        try:
            with self._bounded():
                doc = await self._leases.find_one_and_update(
                    live_filter(lease.resource, lease.owner, lease.token),
                    renew_pipeline(ttl_ms, self._grace_ms),
                    return_document=ReturnDocument.AFTER,
                )
        except PyMongoError as exc:
            if not is_ambiguous(exc):
                self._observe("renew", "error", started)
                raise
            # A holding seen on read-back is durable; one not seen is reported lost,
            # which only makes the caller stop.
            renewed = await self._read_back(
                lease.resource, lease.owner, lease.token, "renew", exc, started
            )
            self._observe("renew", "renewed" if renewed else "lost", started)
            return renewed
        renewed = _lease(doc) if doc is not None else None
        self._observe("renew", "renewed" if renewed else "lost", started)
        return renewed

    async def release(self, lease: Lease) -> bool:
        """Give the slot back. True if it was live and is now released; False if it was
        not held any more (already released, expired or taken over): a harmless no-op."""
        async with self._admitted("release", lease.resource):
            return await self._release(lease)

    async def _release(self, lease: Lease) -> bool:
        started = time.perf_counter()
        try:
            with self._bounded():
                result = await self._leases.update_one(
                    live_filter(lease.resource, lease.owner, lease.token), release_pipeline()
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

        Returns how many holdings were released (0 on a repeat).
        """
        if not owner:
            raise ValueError("owner must be a non-empty string")
        async with self._admitted("release all", owner):
            with self._bounded():
                result = await self._leases.update_many(
                    {"owner": owner, "res": {"$exists": True}, "$expr": live_expr()},
                    release_pipeline(),
                )
            return result.modified_count

    async def holders(self, resource: str) -> list[Lease]:
        """The live holders of `resource`, judged by the server's clock, by slot."""
        async with self._admitted("list holders", resource):
            with self._bounded():
                cursor = await self._leases.aggregate([*live_stages(resource), {"$sort": {"i": 1}}])
                docs = await cursor.to_list()
            return [_lease(doc) for doc in docs]

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
        target = f"{coll.name}/{doc_id}"
        async with self._admitted("fenced write", target):
            with self._bounded():
                doc = await self._upsert(
                    coll,
                    doc_id,
                    fenced_write_pipeline(dict(fields), fence, fence_field),
                    projection={fence_field: 1},
                )
            return bool(doc.get(fence_field) == fence)

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    async def _upsert(
        coll: AsyncCollection[Any],
        doc_id: Any,
        pipeline: list[dict[str, Any]],
        projection: Mapping[str, Any] | None = None,
    ) -> Any:
        """Upsert with a pipeline and return the document after it. Only for updates that
        are safe to repeat (an equal fence writes the same fields again)."""
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

    async def _read_holding(self, resource: str, owner: str, token: int | None) -> Lease | None:
        """The owner's live slot, read linearizably: majority can be stale on a deposed
        primary. Bounded like every call (linearizable reads wait for a majority)."""
        stages = [*live_stages(resource, owner, token), {"$limit": 1}]
        for level in ("linearizable", "majority"):
            coll = self._leases.with_options(read_concern=ReadConcern(level))
            try:
                with self._bounded():
                    cursor = await coll.aggregate(stages)
                    docs = await cursor.to_list(1)
                    doc = docs[0] if docs else None
            except OperationFailure as exc:
                # Servers that refuse linearizable (a standalone, code 72 or 9) fall back.
                if level == "linearizable" and exc.code in (9, 72, 148):
                    continue
                raise
            return _lease(doc) if doc is not None else None
        return None

    async def _read_back(
        self,
        resource: str,
        owner: str,
        token: int | None,
        operation: LeaseOperation,
        cause: BaseException,
        started: float,
    ) -> Lease | None:
        """The owner's live holding after an ambiguous write, or None.

        Raises LeaseOutcomeUnknown when the read itself fails.
        """
        try:
            held = await self._read_holding(resource, owner, token)
        except PyMongoError as exc:
            self._observe(operation, "unknown", started)
            raise LeaseOutcomeUnknown(operation, resource, owner, cause) from exc
        log.warning(
            "ambiguous %s on lease %r for %r (%s); read back: %s",
            operation,
            resource,
            owner,
            type(cause).__name__,
            "held" if held else "not held",
        )
        return held

    def _observe(self, operation: LeaseOperation, outcome: LeaseOutcome, started: float) -> None:
        self._call(self._metrics.observe, operation, outcome, time.perf_counter() - started)

    @staticmethod
    def _call(hook: Any, *args: Any) -> None:
        # A broken metrics hook must never change a lease outcome.
        try:
            hook(*args)
        except Exception:  # noqa: BLE001
            log.exception("lease metrics hook %r failed", hook)


def _lease(doc: Mapping[str, Any]) -> Lease:
    return Lease(
        resource=doc["res"],
        owner=doc["owner"],
        token=int(doc["token"]),
        expires_at=_at(int(doc["expires_ms"])),
    )
