"""Metrics exported on the worker's Prometheus endpoint beside the SDK's own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from temporalio.common import MetricMeter

from activities.fleet_store import SERVERS_COLLECTION, quota_resource
from orchestrator.leases import LeaseOperation, LeaseOutcome, LeaseStore
from orchestrator.lifecycle import ServerState

__all__ = ["LeaseMetricsToTemporal", "publish_fleet_gauges"]

log = logging.getLogger(__name__)


class LeaseMetricsToTemporal:
    """The lease store's hooks, as histograms and counters on the runtime's meter."""

    def __init__(self, meter: MetricMeter) -> None:
        self._latency = meter.create_histogram_float(
            "lease_operation_seconds", "Lease store call latency", "s"
        )
        self._denied = meter.create_counter(
            "lease_denied_total", "Acquires refused: all slots held"
        )
        self._takeovers = meter.create_counter(
            "lease_takeovers_total", "Acquires that pruned an expired holder"
        )

    def observe(self, operation: LeaseOperation, outcome: LeaseOutcome, seconds: float) -> None:
        self._latency.record(seconds, {"operation": operation, "outcome": outcome})

    def denied(self, resource: str, limit: int) -> None:
        self._denied.add(1, {"resource": resource})

    def takeover(self, resource: str) -> None:
        self._takeovers.add(1, {"resource": resource})


async def publish_fleet_gauges(
    db: AsyncDatabase[Any],
    meter: MetricMeter,
    every: float = 15,
    *,
    quotas: Mapping[str, int] | None = None,
    store: LeaseStore | None = None,
) -> None:
    """Servers by state and billed hours, from the read model (one aggregate per tick);
    with `quotas` (provider -> limit) and `store`, each provider account's quota use."""
    by_state = meter.create_gauge("servers_by_state", "Servers per lifecycle state")
    billed = meter.create_gauge("billed_hours_total", "Billed hours over all recorded servers")
    in_use = meter.create_gauge("quota_slots_in_use", "Live servers holding an account's quota")
    limits = meter.create_gauge("quota_slots_limit", "An account's quota (<PROVIDER>_MAX_SERVERS)")
    accounts = dict(quotas or {}) if store is not None else {}
    while True:
        try:
            for provider, limit in accounts.items():
                assert store is not None
                held = await store.holders(quota_resource(provider))
                in_use.set(len(held), {"provider": provider})
                limits.set(limit, {"provider": provider})
            counts = {state.value: 0 for state in ServerState}
            hours = 0
            async for row in await db[SERVERS_COLLECTION].aggregate(
                [{"$group": {"_id": "$state", "n": {"$sum": 1}, "h": {"$sum": "$billed_hours"}}}]
            ):
                counts[str(row["_id"])] = int(row["n"])
                hours += int(row["h"])
            for state, n in counts.items():
                by_state.set(n, {"state": state})
            billed.set(hours)
        except Exception as exc:  # noqa: BLE001 - metrics must never stop the worker
            log.warning("could not refresh fleet gauges: %s", exc)
        await asyncio.sleep(every)
