"""The worker's fleet gauges read the read model (servers by state, billed hours)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fleet.metrics import publish_fleet_gauges
from orchestrator.leases import LeaseStore


class Gauge:
    def __init__(self) -> None:
        self.values: dict[tuple, int] = {}

    def set(self, value: int, attributes: dict | None = None) -> None:
        self.values[tuple(sorted((attributes or {}).items()))] = value


class Meter:
    def __init__(self) -> None:
        self.gauges: dict[str, Gauge] = {}

    def create_gauge(self, name: str, description: str = "", unit: str = "") -> Gauge:
        return self.gauges.setdefault(name, Gauge())


async def test_gauges_count_servers_by_state_and_sum_billed_hours(mongo_db):
    await mongo_db["servers"].insert_many(
        [
            {"_id": "a", "state": "IDLE", "billed_hours": 2},
            {"_id": "b", "state": "IDLE", "billed_hours": 1},
            {"_id": "c", "state": "TERMINATED", "billed_hours": 4},
        ]
    )
    meter = Meter()
    task = asyncio.create_task(publish_fleet_gauges(mongo_db, meter, every=0.05))  # type: ignore[arg-type]
    await asyncio.sleep(0.5)
    task.cancel()
    by_state = meter.gauges["servers_by_state"].values
    assert by_state[(("state", "IDLE"),)] == 2
    assert by_state[(("state", "TERMINATED"),)] == 1
    assert by_state[(("state", "EXECUTING"),)] == 0
    assert meter.gauges["billed_hours_total"].values[()] == 7


async def test_quota_gauges_count_each_provider_accounts_slots(mongo_db):
    store = LeaseStore(mongo_db)
    for owner in ("server-v1", "server-v2"):
        assert await store.acquire("quota:servers", owner, timedelta(minutes=5), 5)
    assert await store.acquire("quota:servers:hetzner", "server-h1", timedelta(minutes=5), 1)
    meter = Meter()
    task = asyncio.create_task(
        publish_fleet_gauges(
            mongo_db,
            meter,  # type: ignore[arg-type]
            every=0.05,
            quotas={"vultr": 5, "hetzner": 1},
            store=store,
        )
    )
    await asyncio.sleep(0.5)
    task.cancel()
    in_use = meter.gauges["quota_slots_in_use"].values
    assert in_use == {(("provider", "vultr"),): 2, (("provider", "hetzner"),): 1}
    limits = meter.gauges["quota_slots_limit"].values
    assert limits == {(("provider", "vultr"),): 5, (("provider", "hetzner"),): 1}
