"""One worker process: the server workflow, every activity, and a Prometheus endpoint.

Each provider's activities run on their own task queue (`<queue>-<provider>`) whose
rate limit is enforced by the Temporal server for all workers together, so the fleet
stays under each account's request budget however many workers run.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.delete_plan import DeletePlanActivities, ensure_delete_plan_indexes
from activities.fleet_store import FleetStoreActivities, ensure_read_model_indexes
from activities.leases import LeaseActivities
from activities.metrics import DELETE_ADVANCE_BUCKETS, DELETE_LAG_BUCKETS
from activities.policy import PolicyActivities
from activities.pools import PoolActivities
from activities.provider import ProviderActivities, ProviderDirectory
from activities.reconcile import ReconcileActivities, ReconcileRecords
from client.connection import connect_temporal, mongo_client, write_concern
from client.metrics import FleetGauges, LeaseMetricsToTemporal, publish_fleet_gauges
from core.settings import Settings, SettingsError, load_settings
from leases import LeaseStore
from providers.base import Provider
from providers.digitalocean.client import DigitalOceanClient
from providers.digitalocean.provider import DigitalOceanProvider
from providers.hetzner.client import HetznerClient
from providers.hetzner.provider import HetznerProvider
from providers.vultr import VultrClient
from providers.vultr.provider import VultrProvider
from workflows.policies import provider_catalog_queue, provider_task_queue
from workflows.pool import WarmPoolWorkflow
from workflows.reconcile import ReconcileFleetWorkflow, ReconcileWorkflow
from workflows.schedules import ensure_reconcile_schedule
from workflows.server import ServerWorkflow
from workflows.spec_check import SpecCheckWorkflow

log = logging.getLogger("worker")

WORKFLOWS: Sequence[type] = (
    ServerWorkflow,
    ReconcileWorkflow,
    ReconcileFleetWorkflow,
    WarmPoolWorkflow,
    SpecCheckWorkflow,
)
# The sandbox imports a workflow's module afresh for every new run (tens of ms; more
# where PYTHONDONTWRITEBYTECODE leaves it no bytecode cache), which bounds how fast
# a burst of servers starts. The workflows package and the project modules it imports
# hold no state of their own (tests/workflows/test_module_state.py), so runs share
# them; the sandbox still guards builtins, and the workflow tests run fully sandboxed.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
)


@asynccontextmanager
async def open_providers(settings: Settings) -> AsyncIterator[dict[str, Provider]]:
    """A client for each provider account the settings configure, open while in use."""
    async with AsyncExitStack() as stack:
        vultr = await stack.enter_async_context(VultrClient.from_settings(settings))
        providers: dict[str, Provider] = {"vultr": VultrProvider.from_settings(vultr, settings)}
        if settings.hetzner_configured:
            hetzner = await stack.enter_async_context(HetznerClient.from_settings(settings))
            providers["hetzner"] = HetznerProvider(
                hetzner, period_seconds=settings.billing_period_seconds
            )
        if settings.digitalocean_configured:
            do = await stack.enter_async_context(DigitalOceanClient.from_settings(settings))
            providers["digitalocean"] = DigitalOceanProvider(
                do, monthly_cap_hours=settings.digitalocean_monthly_cap_hours
            )
        yield providers


def build_workers(
    client: Client,
    settings: Settings,
    *,
    providers: Mapping[str, Provider],
    db: AsyncDatabase[Any],
    store: LeaseStore,
) -> list[Worker]:
    """The workers of one process: workflows + store activities, and two per provider:
    its API calls on its rate-limited queue, its catalog checks on its catalog queue."""
    fleet_store = FleetStoreActivities(
        store,
        db,
        max_servers=settings.max_servers_for,
        max_terminations=settings.max_concurrent_terminations,
    )
    leases = LeaseActivities(store)
    delete_plan = DeletePlanActivities(db, settings.delete_budget)
    records = ReconcileRecords(db)
    pools = PoolActivities(store, db)
    policy = PolicyActivities(settings)
    directory = ProviderDirectory(list(providers))
    main = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(WORKFLOWS),
        workflow_runner=WORKFLOW_RUNNER,
        activities=[
            fleet_store.take_quota_slot,
            fleet_store.take_termination_slot,
            fleet_store.release_termination_slot,
            fleet_store.release_server_leases,
            fleet_store.record_server,
            delete_plan.reserve_delete_slot,
            delete_plan.release_delete_slot,
            leases.lease_holders,
            records.record_reconciliation,
            pools.pool_census,
            pools.keep_warm,
            policy.resolve_policy,
            directory.served_providers,
        ],
        max_cached_workflows=settings.worker_max_cached_workflows,
    )
    calls = []
    for provider_id, provider in providers.items():
        cloud = ProviderActivities(provider)
        reconcile = ReconcileActivities(client, provider, db)
        catalog = [cloud.quote_plan, cloud.spec_problems]
        calls.append(
            Worker(
                client,
                task_queue=provider_task_queue(settings.temporal_task_queue, provider_id),
                activities=[
                    # Also here for checks scheduled before they had their own queue.
                    *catalog,
                    cloud.find_instance,
                    cloud.create_instance,
                    cloud.check_ready,
                    cloud.delete_instance,
                    cloud.confirm_deleted,
                    reconcile.scan_fleet,
                ],
                # Enforced by the server across every worker polling this queue.
                max_task_queue_activities_per_second=settings.requests_per_second(provider_id),
            )
        )
        calls.append(
            Worker(
                client,
                task_queue=provider_catalog_queue(settings.temporal_task_queue, provider_id),
                activities=catalog,
            )
        )
    return [main, *calls]


async def run(settings: Settings, stop: asyncio.Event) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"0.0.0.0:{settings.metrics_port}",
                histogram_bucket_overrides={
                    "fleet_delete_lag_seconds": DELETE_LAG_BUCKETS,
                    "fleet_delete_plan_advance_seconds": DELETE_ADVANCE_BUCKETS,
                },
            )
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
    await ensure_delete_plan_indexes(db)
    async with open_providers(settings) as providers:
        workers = build_workers(client, settings, providers=providers, db=db, store=store)
        await ensure_reconcile_schedule(client, settings)
        fleet = FleetGauges(
            db,
            runtime.metric_meter,
            store=store,
            quotas={p: settings.max_servers_for(p) for p in providers},
            default_period=settings.billing_period_seconds,
            reconcile_interval=settings.reconcile_interval_seconds,
        )
        gauges = asyncio.create_task(publish_fleet_gauges(fleet, settings.metrics_interval_seconds))
        served = ", ".join(
            f"{provider_task_queue(settings.temporal_task_queue, p)} "
            f"({p}, {settings.requests_per_second(p):g} req/s)"
            for p in providers
        )
        log.info(
            "worker ready: task queues %s and %s; Vultr at %s; metrics on :%d",
            settings.temporal_task_queue,
            served,
            settings.vultr_api_url,
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
