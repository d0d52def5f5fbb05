"""Metrics exported on the worker's Prometheus endpoint beside the SDK's own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, get_args

from pymongo.asynchronous.database import AsyncDatabase
from temporalio.common import MetricMeter

from activities.fleet_store import SERVERS_COLLECTION, quota_resource
from activities.reconcile import RECONCILIATIONS_COLLECTION
from core.lifecycle import ServerState
from core.reconciliation import Finding
from leases import LeaseOperation, LeaseOutcome, LeaseStore
from providers import DEFAULT_PROVIDER

__all__ = ["FleetGauges", "LeaseMetricsToTemporal", "overrun_periods", "publish_fleet_gauges"]

FINDING_KINDS = (*get_args(Finding.model_fields["kind"].annotation), "not_ours")

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
        self._errors = meter.create_counter(
            "lease_errors_total", "Lease store calls that failed or whose outcome is unknown"
        )
        self._takeovers = meter.create_counter(
            "lease_takeovers_total", "Acquires that pruned an expired holder"
        )

    def observe(self, operation: LeaseOperation, outcome: LeaseOutcome, seconds: float) -> None:
        self._latency.record(seconds, {"operation": operation, "outcome": outcome})
        if outcome in ("error", "unknown"):
            self._errors.add(1, {"operation": operation, "outcome": outcome})

    def denied(self, resource: str, limit: int) -> None:
        self._denied.add(1, {"resource": resource})

    def takeover(self, resource: str) -> None:
        self._takeovers.add(1, {"resource": resource})


class _Gauge:
    """A gauge whose label sets that vanish from the read model drop back to zero."""

    def __init__(self, meter: MetricMeter, name: str, description: str, unit: str = "") -> None:
        self._gauge = meter.create_gauge_float(name, description, unit)
        self._seen: set[tuple[tuple[str, str], ...]] = set()

    def publish(self, values: Mapping[tuple[tuple[str, str], ...], float]) -> None:
        for labels in self._seen - set(values):
            self._gauge.set(0, dict(labels))
        for labels, value in values.items():
            self._gauge.set(value, dict(labels))
        self._seen |= set(values)


def _where(doc: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    # Documents written before servers carried a provider are the default provider's.
    return (
        ("provider", doc.get("provider") or DEFAULT_PROVIDER),
        ("region", doc.get("region") or ""),
    )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def overrun_periods(doc: Mapping[str, Any], now: datetime, default_period: int) -> int:
    """Billing periods a server started beyond the one its deadline ends (0 if on time)."""
    start, deadline = doc.get("billing_start"), doc.get("terminate_at")
    end = doc.get("deleted_at") or (now if doc.get("state") != ServerState.TERMINATED else None)
    if not (start and deadline and end):
        return 0
    period = doc.get("billing_period_seconds") or default_period
    start = _utc(start)
    ends_in = (_utc(end) - start).total_seconds() // period
    due_in = (_utc(deadline) - start).total_seconds() // period
    return max(int(ends_in - due_in), 0)


class FleetGauges:
    """What the read model knows about the fleet, as gauges (one pass over it per tick)."""

    def __init__(
        self,
        db: AsyncDatabase[Any],
        meter: MetricMeter,
        *,
        store: LeaseStore | None = None,
        quotas: Mapping[str, int] | None = None,
        default_period: int = 3600,
        reconcile_interval: float | None = None,
    ) -> None:
        self._db, self._store = db, store
        self._quotas, self._default_period = dict(quotas or {}), default_period
        self._servers = _Gauge(meter, "fleet_servers", "Servers per lifecycle state")
        self._overdue = _Gauge(
            meter, "fleet_servers_overdue", "Servers past their deadline and not deleted"
        )
        self._billed = _Gauge(meter, "fleet_billed_hours", "Billed periods of recorded servers")
        self._cost = _Gauge(meter, "fleet_cost_dollars", "Accrued cost of recorded servers")
        self._run_rate = _Gauge(
            meter, "fleet_hourly_cost_dollars", "Hourly price of the servers not yet deleted"
        )
        self._overrun = meter.create_counter(
            "fleet_overrun_periods_total", "Billing periods paid beyond the deadline's period"
        )
        self._overrun_seen: dict[tuple[tuple[str, str], ...], int] = {}
        self._quota_used = meter.create_gauge(
            "fleet_quota_slots_used", "Quota slots held, per provider account"
        )
        self._quota_max = meter.create_gauge(
            "fleet_quota_slots_limit", "An account's quota (<PROVIDER>_MAX_SERVERS)"
        )
        self._reconciled_at = _Gauge(
            meter,
            "fleet_reconcile_last_run_timestamp_seconds",
            "Start of the last recorded reconciliation",
            "s",
        )
        # The alert on a stalled reconciliation compares with the configured pace.
        self._reconcile_interval = reconcile_interval
        self._interval = meter.create_gauge_float(
            "fleet_reconcile_interval_seconds",
            "Seconds between reconciliations (RECONCILE_INTERVAL_SECONDS)",
            "s",
        )
        self._findings = _Gauge(
            meter, "fleet_reconcile_findings", "Findings of the last reconciliation, by kind"
        )

    async def refresh(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        servers: dict[tuple[tuple[str, str], ...], float] = {}
        overdue: dict[tuple[tuple[str, str], ...], float] = {}
        billed: dict[tuple[tuple[str, str], ...], float] = {}
        cost: dict[tuple[tuple[str, str], ...], float] = {}
        rate: dict[tuple[tuple[str, str], ...], float] = {}
        overrun: dict[tuple[tuple[str, str], ...], int] = {}
        fields = (
            "state provider region billing_start terminate_at deleted_at "
            "billing_period_seconds billed_hours cost hourly_cost"
        ).split()
        async for doc in self._db[SERVERS_COLLECTION].find({}, {f: 1 for f in fields}):
            where = _where(doc)
            state = str(doc.get("state"))
            key = (("state", state), *where)
            servers[key] = servers.get(key, 0) + 1
            billed[where] = billed.get(where, 0) + int(doc.get("billed_hours") or 0)
            cost[where] = cost.get(where, 0) + float(doc.get("cost") or 0)
            live = state != ServerState.TERMINATED and not doc.get("deleted_at")
            if live:
                rate[where] = rate.get(where, 0) + float(doc.get("hourly_cost") or 0)
            deadline = doc.get("terminate_at")
            if live and deadline and _utc(deadline) < now:
                overdue[where] = overdue.get(where, 0) + 1
            overrun[where] = overrun.get(where, 0) + overrun_periods(doc, now, self._default_period)
        for where in billed:
            overdue.setdefault(where, 0)
            for state in ServerState:
                servers.setdefault((("state", state.value), *where), 0)
        self._servers.publish(servers)
        self._overdue.publish(overdue)
        self._billed.publish(billed)
        self._cost.publish(cost)
        self._run_rate.publish(rate)
        for where, total in overrun.items():
            # A counter: add what the read model shows beyond what was already counted.
            grew = total - self._overrun_seen.get(where, 0)
            if grew > 0 or where not in self._overrun_seen:
                self._overrun.add(max(grew, 0), dict(where))
            self._overrun_seen[where] = max(total, self._overrun_seen.get(where, 0))
        await self._refresh_quota()
        await self._refresh_reconciliation()

    async def _refresh_quota(self) -> None:
        for provider, limit in self._quotas.items():
            labels = {"provider": provider}
            if self._store is not None:
                resource = quota_resource(provider)
                held = await self._store.holders(resource)
                self._quota_used.set(len(held), labels)
                # The stored limit rules; the setting only seeds it on first use.
                limit = await self._store.get_limit(resource) or limit
            self._quota_max.set(limit, labels)

    async def _refresh_reconciliation(self) -> None:
        if self._reconcile_interval:  # 0: the schedule is off
            self._interval.set(self._reconcile_interval, {})
        latest = await self._db[RECONCILIATIONS_COLLECTION].aggregate(
            [
                {"$sort": {"started_at": -1}},
                {
                    "$group": {
                        "_id": {"$ifNull": ["$provider", DEFAULT_PROVIDER]},
                        "last": {"$first": "$$ROOT"},
                    }
                },
            ]
        )
        at: dict[tuple[tuple[str, str], ...], float] = {}
        found: dict[tuple[tuple[str, str], ...], float] = {}
        async for row in latest:
            provider = (("provider", str(row["_id"])),)
            report = row["last"]
            at[provider] = _utc(report["started_at"]).timestamp()
            kinds = {kind: 0 for kind in FINDING_KINDS}
            for finding in report.get("findings") or []:
                kinds[finding["kind"]] = kinds.get(finding["kind"], 0) + 1
            kinds["not_ours"] = int(report.get("not_ours") or 0)
            for kind, n in kinds.items():
                found[(*provider, ("kind", kind))] = n
        self._reconciled_at.publish(at)
        self._findings.publish(found)


async def publish_fleet_gauges(gauges: FleetGauges, every: float = 15) -> None:
    """Refresh the fleet gauges every `every` seconds until cancelled."""
    while True:
        try:
            await gauges.refresh()
        except Exception as exc:  # noqa: BLE001 - metrics must never stop the worker
            log.warning("could not refresh fleet gauges: %s", exc)
        await asyncio.sleep(every)
