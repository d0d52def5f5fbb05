"""Warm-pool bookkeeping: how many members a pool has, and which idle members stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase
from temporalio import activity

from activities.fleet_store import SERVERS_COLLECTION
from activities.leases import mongo_errors
from activities.payloads import KeepWarmInput
from core.lifecycle import ACTIVE_STATES, ServerState
from leases import LeaseStore

__all__ = ["PoolActivities", "PoolCensus", "PoolCensusInput"]

POOLS_COLLECTION = "pools"


class PoolCensusInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: str
    min_idle_now: int = Field(ge=0)


class PoolCensus(BaseModel):
    available: int  # READY or IDLE
    provisioning: int
    busy: int
    members: list[str]  # workflow ids recorded in any live state


class PoolActivities:
    def __init__(self, store: LeaseStore, db: AsyncDatabase[Any]) -> None:
        self._store = store
        self._db = db

    @activity.defn(name="pool_census")
    async def pool_census(self, request: PoolCensusInput) -> PoolCensus:
        """Publish the pool's current target and count its live members by state."""
        with mongo_errors(f"counting pool {request.pool}"):
            await self._db[POOLS_COLLECTION].update_one(
                {"_id": request.pool}, {"$set": {"min_idle_now": request.min_idle_now}}, upsert=True
            )
            counts: dict[str, int] = {}
            members: list[str] = []
            live = [s.value for s in ACTIVE_STATES]
            async for doc in self._db[SERVERS_COLLECTION].find(
                {"pool": request.pool, "state": {"$in": live}}, {"state": 1, "workflow_id": 1}
            ):
                counts[doc["state"]] = counts.get(doc["state"], 0) + 1
                members.append(doc["workflow_id"])
        return PoolCensus(
            available=counts.get(ServerState.READY, 0) + counts.get(ServerState.IDLE, 0),
            provisioning=counts.get(ServerState.PROVISIONING, 0),
            busy=counts.get(ServerState.EXECUTING, 0),
            members=members,
        )

    @activity.defn(name="keep_warm")
    async def keep_warm(self, request: KeepWarmInput) -> bool:
        """At its deadline an idle member stays one more period only if it wins one of
        the pool's `min_idle_now` warm slots (a semaphore, so never more stay)."""
        with mongo_errors(f"keep-warm check for {request.owner}"):
            pool = await self._db[POOLS_COLLECTION].find_one({"_id": request.pool})
            limit = int(pool.get("min_idle_now", 0)) if pool else 0
            if limit <= 0:
                return False
            lease = await self._store.acquire(
                f"warm:{request.pool}", request.owner, timedelta(seconds=request.ttl_seconds), limit
            )
        return lease is not None
