"""The worker's fleet gauges read the read model: servers by state, provider and region,
overdue servers, periods paid past the deadline, quota and the last reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from client.metrics import FleetGauges, overrun_periods
from leases import LeaseStore

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Instrument:
    def __init__(self) -> None:
        self.values: dict[tuple, float] = {}

    def set(self, value: float, attributes: dict | None = None) -> None:
        self.values[tuple(sorted((attributes or {}).items()))] = value

    def add(self, value: float, attributes: dict | None = None) -> None:
        key = tuple(sorted((attributes or {}).items()))
        self.values[key] = self.values.get(key, 0) + value


class Meter:
    def __init__(self) -> None:
        self.made: dict[str, Instrument] = {}

    def _make(self, name: str, description: str = "", unit: str = "") -> Instrument:
        return self.made.setdefault(name, Instrument())

    create_gauge = create_gauge_float = create_counter = _make


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def server(_id: str, state: str, **fields: object) -> dict[str, object]:
    return {"_id": _id, "state": state, "provider": "vultr", "region": "ewr", **fields}


def where(**labels: str) -> tuple:
    return tuple(sorted({"provider": "vultr", "region": "ewr", **labels}.items()))


async def test_servers_are_counted_by_state_provider_and_region(mongo_db):
    await mongo_db["servers"].insert_many(
        [
            server("a", "IDLE", billed_hours=2),
            server("b", "IDLE", billed_hours=1),
            server("c", "TERMINATED", billed_hours=4),
            server("d", "ERROR", provider="hetzner", region="fsn1"),
        ]
    )
    meter = Meter()
    await FleetGauges(mongo_db, meter).refresh(NOW)  # type: ignore[arg-type]
    servers = meter.made["fleet_servers"].values
    assert servers[where(state="IDLE")] == 2
    assert servers[where(state="TERMINATED")] == 1
    assert servers[where(state="EXECUTING")] == 0
    assert servers[where(state="ERROR", provider="hetzner", region="fsn1")] == 1
    assert meter.made["fleet_billed_hours"].values[where()] == 7


async def test_a_server_past_its_deadline_is_overdue_until_deleted(mongo_db):
    servers = mongo_db["servers"]
    await servers.insert_many(
        [
            server("late", "TERMINATING", billing_start=at(-50), terminate_at=at(-1)),
            server("on-time", "IDLE", billing_start=at(-30), terminate_at=at(29)),
        ]
    )
    meter = Meter()
    gauges = FleetGauges(mongo_db, meter, default_period=3600)  # type: ignore[arg-type]
    await gauges.refresh(NOW)
    assert meter.made["fleet_servers_overdue"].values[where()] == 1

    await servers.update_one({"_id": "late"}, {"$set": {"state": "TERMINATED", "deleted_at": NOW}})
    await gauges.refresh(NOW)
    assert meter.made["fleet_servers_overdue"].values[where()] == 0


async def test_overrun_periods_count_each_boundary_crossed_after_the_deadline_once(mongo_db):
    servers = mongo_db["servers"]
    # Started two hours ago, due a minute before its first boundary, still running: two
    # boundaries crossed since the deadline.
    await servers.insert_one(
        server("late", "TERMINATING", billing_start=at(-120), terminate_at=at(-61))
    )
    meter = Meter()
    gauges = FleetGauges(mongo_db, meter, default_period=3600)  # type: ignore[arg-type]
    await gauges.refresh(NOW)
    await gauges.refresh(NOW)  # no new boundary: nothing more is counted
    assert meter.made["fleet_overrun_periods_total"].values[where()] == 2


def test_a_server_deleted_before_its_boundary_overran_nothing():
    doc = {"billing_start": at(0), "terminate_at": at(59), "deleted_at": at(59.5)}
    assert overrun_periods(doc, at(200), 3600) == 0
    assert overrun_periods({**doc, "deleted_at": at(61)}, at(200), 3600) == 1


async def test_the_last_reconciliation_per_provider_is_published_by_kind(mongo_db):
    await mongo_db["reconciliations"].insert_many(
        [
            {"provider": "vultr", "started_at": at(-10), "not_ours": 0, "findings": []},
            {
                "provider": "vultr",
                "started_at": at(-5),
                "not_ours": 3,
                "findings": [{"kind": "orphan"}, {"kind": "orphan"}, {"kind": "gone"}],
            },
        ]
    )
    meter = Meter()
    await FleetGauges(mongo_db, meter).refresh(NOW)  # type: ignore[arg-type]
    found = meter.made["fleet_reconcile_findings"].values
    assert found[(("kind", "orphan"), ("provider", "vultr"))] == 2
    assert found[(("kind", "gone"), ("provider", "vultr"))] == 1
    assert found[(("kind", "duplicate"), ("provider", "vultr"))] == 0
    assert found[(("kind", "not_ours"), ("provider", "vultr"))] == 3
    stamp = meter.made["fleet_reconcile_last_run_timestamp_seconds"].values
    assert stamp[(("provider", "vultr"),)] == at(-5).timestamp()


async def test_the_reconcile_interval_is_published_unless_the_schedule_is_off(mongo_db):
    meter = Meter()
    await FleetGauges(mongo_db, meter, reconcile_interval=60).refresh(NOW)  # type: ignore[arg-type]
    assert meter.made["fleet_reconcile_interval_seconds"].values == {(): 60}
    off = Meter()
    await FleetGauges(mongo_db, off, reconcile_interval=0).refresh(NOW)  # type: ignore[arg-type]
    assert off.made["fleet_reconcile_interval_seconds"].values == {}


async def test_quota_gauges_count_each_provider_accounts_slots(mongo_db):
    store = LeaseStore(mongo_db)
    for owner in ("server-v1", "server-v2"):
        assert await store.acquire("quota:servers", owner, timedelta(minutes=5), 5)
    assert await store.acquire("quota:servers:hetzner", "server-h1", timedelta(minutes=5), 1)
    meter = Meter()
    gauges = FleetGauges(mongo_db, meter, store=store, quotas={"vultr": 5, "hetzner": 1})  # type: ignore[arg-type]
    await gauges.refresh(NOW)
    used = meter.made["fleet_quota_slots_used"].values
    assert used == {(("provider", "vultr"),): 2, (("provider", "hetzner"),): 1}
    limits = meter.made["fleet_quota_slots_limit"].values
    assert limits == {(("provider", "vultr"),): 5, (("provider", "hetzner"),): 1}
