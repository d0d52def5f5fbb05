"""Reports over the MongoDB read model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from activities.fleet_store import SERVERS_COLLECTION
from core.cost import CostReport, cost_report
from core.models import ServerStatus

__all__ = ["load_cost_report", "load_statuses"]

_STORE_ONLY = ("_id", "fence", "updated_at")


def _status(doc: dict[str, Any]) -> ServerStatus:
    return ServerStatus.model_validate({k: v for k, v in doc.items() if k not in _STORE_ONLY})


async def load_statuses(
    db: AsyncDatabase[Any], since: datetime | None = None
) -> list[ServerStatus]:
    """Every recorded server generation (terminated ones included) billed since `since`."""
    query: dict[str, Any] = {}
    if since is not None:
        query = {"$or": [{"deleted_at": None}, {"deleted_at": {"$gte": since}}]}
    return [
        _status(doc) async for doc in db[SERVERS_COLLECTION].find(query).sort("billing_start", 1)
    ]


async def load_cost_report(
    db: AsyncDatabase[Any],
    period: timedelta,
    *,
    since: datetime | None = None,
    idle_timeout: timedelta = timedelta(minutes=10),
) -> CostReport:
    statuses = await load_statuses(db, since)
    return cost_report(statuses, period, datetime.now(UTC), idle_timeout)
