"""Shared-resource slots and the fleet read model, on the MongoDB lease store.

The limits are stored in MongoDB with the slots (`starter.py quota --set N` changes
the server quota); the worker's settings are only the values stored on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.delete_plan import DELETE_PLAN_COLLECTION
from activities.leases import LEASE_UNAVAILABLE, mongo_errors
from activities.metrics import observe_delete_lag
from activities.payloads import RecordServerInput, SlotInput
from core.lifecycle import ServerState
from core.models import ServerStatus
from leases import Lease, LeaseStore
from providers import DEFAULT_PROVIDER

__all__ = [
    "QUOTA_RESOURCE",
    "SERVERS_COLLECTION",
    "TERMINATIONS_RESOURCE",
    "FleetStoreActivities",
    "quota_resource",
    "status_from_record",
]

QUOTA_RESOURCE = "quota:servers"
TERMINATIONS_RESOURCE = "terminations"
SERVERS_COLLECTION = "servers"


def provider_filter(provider: str) -> dict[str, Any]:
    """Read-model documents of one provider's servers; documents written before servers
    carried a provider are the default provider's."""
    if provider == DEFAULT_PROVIDER:
        return {"provider": {"$in": [provider, None]}}
    return {"provider": provider}


def quota_resource(provider: str | None) -> str:
    """The lease resource of one provider account's quota. The default provider keeps
    the name all servers shared before quotas were per provider, so the slots running
    workflows hold stay counted."""
    if provider is None or provider == DEFAULT_PROVIDER:
        return QUOTA_RESOURCE
    return f"{QUOTA_RESOURCE}:{provider}"


def record_id(workflow_id: str, generation: str) -> str:
    return f"{workflow_id}/{generation}"


def status_from_record(doc: Mapping[str, Any]) -> ServerStatus:
    """A read-model document as the ServerStatus `record_server` wrote into it: the
    fields the store adds (_id, the fence, updated_at) dropped, naive datetimes (a
    client without tz_aware) read as the UTC they were stored in."""
    return ServerStatus.model_validate(
        {k: _aware(v) for k, v in doc.items() if k in ServerStatus.model_fields}
    )


def _aware(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, Mapping):
        return {k: _aware(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_aware(v) for v in value]
    return value


async def ensure_read_model_indexes(db: AsyncDatabase) -> None:
    servers = db[SERVERS_COLLECTION]
    await servers.create_index([("name", 1), ("updated_at", DESCENDING)], name="name_updated")
    await servers.create_index("state", name="state")


class FleetStoreActivities:
    def __init__(
        self,
        store: LeaseStore,
        db: AsyncDatabase,
        *,
        max_servers: Callable[[str], int],
        max_terminations: int,
    ) -> None:
        self._store = store
        self._db = db
        self._max_servers = max_servers  # a provider's quota
        self._max_terminations = max_terminations

    async def _take(self, resource: str, limit: int, request: SlotInput) -> Lease:
        with mongo_errors(f"take a slot of {resource!r} for {request.owner!r}"):
            lease = await self._store.acquire(
                resource, request.owner, timedelta(seconds=request.ttl_seconds), limit
            )
        if lease is None:
            # The stored limit is what counts; MAX_SERVERS only seeds it.
            with mongo_errors(f"read the limit of {resource!r}"):
                limit = await self._store.get_limit(resource) or limit
            raise ApplicationError(
                f"all {limit} slots of {resource!r} are taken; waiting for one to free up",
                {"resource": resource, "limit": limit},
                type=LEASE_UNAVAILABLE,
                category=ApplicationErrorCategory.BENIGN,
            )
        return lease

    @activity.defn(name="take_quota_slot")
    async def take_quota_slot(self, request: SlotInput) -> Lease:
        """One of the provider account's live servers (`<PROVIDER>_MAX_SERVERS`, else
        MAX_SERVERS); taking it again renews it (same owner)."""
        provider = request.provider or DEFAULT_PROVIDER
        return await self._take(quota_resource(provider), self._max_servers(provider), request)

    @activity.defn(name="take_termination_slot")
    async def take_termination_slot(self, request: SlotInput) -> Lease:
        """One of MAX_CONCURRENT_TERMINATIONS deletes in flight."""
        return await self._take(TERMINATIONS_RESOURCE, self._max_terminations, request)

    @activity.defn(name="release_termination_slot")
    async def release_termination_slot(self, slot: Lease) -> bool:
        """Give a termination slot back as soon as the DELETE is accepted: confirming
        the instance is gone needs no slot, and clustered deadlines need them all."""
        with mongo_errors(f"release the termination slot of {slot.owner!r}"):
            return await self._store.release(slot)

    @activity.defn(name="release_server_leases")
    async def release_server_leases(self, request: SlotInput) -> int:
        with mongo_errors(f"release the leases of {request.owner!r}"):
            # A deleted server's place in the delete plan goes with its leases.
            await self._db[DELETE_PLAN_COLLECTION].delete_many({"owner": request.owner})
            return await self._store.release_all(request.owner)

    @activity.defn(name="record_server")
    async def record_server(self, request: RecordServerInput) -> bool:
        """Write the server's read-model document; an older fence never overwrites."""
        status = request.status
        fields = status.model_dump(mode="python", exclude={"kind"})
        fields["updated_at"] = datetime.now(UTC)
        key = record_id(status.workflow_id, status.generation)
        with mongo_errors(f"record {status.name} as {status.state}"):
            # The final record clears the deadline: the lag is measured from the last one.
            before = None
            if status.state == ServerState.TERMINATED:
                before = await self._db[SERVERS_COLLECTION].find_one(
                    {"_id": key}, {"state": 1, "terminate_at": 1}
                )
            written = await self._store.fenced_write(SERVERS_COLLECTION, key, fields, request.fence)
        # Once per server, on the write that first records it gone.
        deadline = (before or {}).get("terminate_at")
        first_delete = before is not None and before.get("state") != ServerState.TERMINATED
        if written and first_delete and status.deleted_at and deadline:
            if deadline.tzinfo is None:
                deadline = deadline.replace(tzinfo=UTC)
            lag = (status.deleted_at - deadline).total_seconds()
            observe_delete_lag(status.provider, status.region, lag)
        return written
