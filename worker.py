"""One worker process: the server workflow, every activity, and a Prometheus endpoint.

Vultr activities run on their own task queue whose rate limit is enforced by the
Temporal server for all workers together, so the fleet stays under Vultr's
account-wide request budget however many workers run.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.fleet_store import FleetStoreActivities, ensure_read_model_indexes
from activities.leases import LeaseActivities
from activities.policy import PolicyActivities
from activities.pools import PoolActivities
from activities.reconcile import ReconcileActivities
from activities.spec_check import SpecCheckActivities
from activities.vultr import VultrActivities
from fleet.connection import connect_temporal, mongo_client, write_concern
from fleet.metrics import LeaseMetricsToTemporal, publish_fleet_gauges
from orchestrator.leases import LeaseStore
from orchestrator.settings import Settings, SettingsError, load_settings
from orchestrator.vultr import VultrClient
from workflows.policies import vultr_task_queue
from workflows.pool import WarmPoolWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.schedules import ensure_reconcile_schedule
from workflows.server import ServerWorkflow
from workflows.spec_check import SpecCheckWorkflow

log = logging.getLogger("worker")

WORKFLOWS: Sequence[type] = (
    ServerWorkflow,
    ReconcileWorkflow,
    WarmPoolWorkflow,
    SpecCheckWorkflow,
)


def build_workers(
    client: Client,
    settings: Settings,
    *,
    vultr: VultrClient,
    db: AsyncDatabase[Any],
    store: LeaseStore,
) -> list[Worker]:
    """The two workers of one process: workflows + store activities, and Vultr calls."""
    fleet_store = FleetStoreActivities(
        store,
        db,
        max_servers=settings.max_servers,
        max_terminations=settings.max_concurrent_terminations,
    )
    leases = LeaseActivities(store)
    vultr_activities = VultrActivities(vultr)
    reconcile = ReconcileActivities(client, vultr, db)
    pools = PoolActivities(store, db)
    policy = PolicyActivities(settings)
    spec_check = SpecCheckActivities(vultr)
    main = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            fleet_store.take_quota_slot,
            fleet_store.take_termination_slot,
            fleet_store.release_termination_slot,
            fleet_store.release_server_leases,
            fleet_store.record_server,
            leases.acquire_lease,
            leases.renew_lease,
            leases.release_lease,
            leases.release_all_leases,
            leases.lease_holders,
            reconcile.record_reconciliation,
            pools.pool_census,
            pools.keep_warm,
            policy.resolve_policy,
        ],
    )
    calls = Worker(
        client,
        task_queue=vultr_task_queue(settings.temporal_task_queue),
        activities=[
            vultr_activities.quote_plan,
            spec_check.spec_problems,
            vultr_activities.find_instance,
            vultr_activities.create_instance,
            vultr_activities.check_ready,
            vultr_activities.delete_instance,
            vultr_activities.confirm_deleted,
            reconcile.scan_fleet,
        ],
        # Enforced by the server across every worker polling this queue.
        max_task_queue_activities_per_second=settings.vultr_requests_per_second,
    )
    return [main, calls]


async def run(settings: Settings, stop: asyncio.Event) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")
        )
    )
    client = await connect_temporal(settings, runtime)
    mongo = mongo_client(settings)
    db = mongo[settings.mongo_db]
    store = LeaseStore(
        db,
        write_concern=write_concern(settings),
        metrics=LeaseMetricsToTemporal(runtime.metric_meter),
    )
    await store.ensure_indexes()
    await ensure_read_model_indexes(db)
    async with VultrClient.from_settings(settings) as vultr:
        workers = build_workers(client, settings, vultr=vultr, db=db, store=store)
        await ensure_reconcile_schedule(client, settings)
        gauges = asyncio.create_task(publish_fleet_gauges(db, runtime.metric_meter))
        log.info(
            "worker ready: task queues %s and %s (Vultr %s, %.0f req/s), metrics on :%d",
            settings.temporal_task_queue,
            vultr_task_queue(settings.temporal_task_queue),
            settings.vultr_api_url,
            settings.vultr_requests_per_second,
            settings.metrics_port,
        )
        runs = [asyncio.create_task(w.run()) for w in workers]
        await stop.wait()
        log.info("shutting down: finishing activities in flight")
        gauges.cancel()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*runs, return_exceptions=True)
    await mongo.close()


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        settings.vultr_key()
    except SettingsError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    try:
        asyncio.run(serve())
    except ConnectionError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
