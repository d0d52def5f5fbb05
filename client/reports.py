"""Reports over the MongoDB read model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from activities.fleet_store import SERVERS_COLLECTION, status_from_record
from core.cost import CostReport, cost_report
from core.models import ServerStatus

__all__ = ["load_cost_report", "load_statuses"]


async def load_statuses(
    db: AsyncDatabase[Any], since: datetime | None = None
) -> list[ServerStatus]:
    """Every recorded server generation (terminated ones included) billed since `since`."""
    query: dict[str, Any] = {}
    if since is not None:
        query = {"$or": [{"deleted_at": None}, {"deleted_at": {"$gte": since}}]}
    cursor = db[SERVERS_COLLECTION].find(query).sort("billing_start", 1)
    return [status_from_record(doc) async for doc in cursor]


async def load_cost_report(
    db: AsyncDatabase[Any],
    period: timedelta,
    *,
    since: datetime | None = None,
    idle_timeout: timedelta = timedelta(minutes=10),
) -> CostReport:
    statuses = await load_statuses(db, since)
    return cost_report(statuses, period, datetime.now(UTC), idle_timeout)
