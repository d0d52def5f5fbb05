"""Fleet commands: claims for jobs, warm pools, reconciliation on demand, cost report."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.fleet_store import quota_resource
from activities.pools import POOLS_COLLECTION
from cli.options import (
    ImageOption,
    OsIdOption,
    PlanOption,
    ProviderOption,
    RegionOption,
    server_kind,
)
from cli.render import dump_json, format_cost, format_time
from cli.runtime import EXIT_USAGE, fail, load_cli_settings, out_console, run_with_fleet
from client.claims import Claim, ClaimBroker, ClaimError, claim_resource
from client.connection import write_concern
from client.errors import FleetError
from client.fleet import ServerFleet, build_spec
from client.reports import load_cost_report
from core.cost import CostReport
from core.lifecycle import FINAL_STATES
from core.models import workflow_id_for
from leases import MAX_LIMIT, LeaseStore
from providers import DEFAULT_PROVIDER, PROVIDER_IDS
from workflows.pool import PoolInput, WarmPoolWorkflow, next_active_start
from workflows.reconcile import ReconcileFleetWorkflow
from workflows.schedules import reconcile_input

__all__ = ["register"]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
# A claim is renewed by its job; one that outlives a day is a mistake, not a plan.
MAX_TTL_SECONDS = 86_400
TtlOption = Annotated[
    int,
    typer.Option(
        "--ttl",
        min=5,
        max=MAX_TTL_SECONDS,
        help=f"Seconds the claim lasts unless renewed (heartbeat), 5 to {MAX_TTL_SECONDS} (a day).",
    ),
]
# Longest `reconcile` waits for the run it started; the run itself goes on.
RECONCILE_WAIT_SECONDS = 120


def _broker(fleet: ServerFleet) -> ClaimBroker:
    if fleet.db is None:
        fail("claims need MongoDB (MONGO_URI)")
    store = LeaseStore(fleet.db, write_concern=write_concern(fleet.settings))
    return ClaimBroker(fleet.client, fleet.settings, fleet.db, store, check_spec=fleet.check_spec)


def _claim_json(claim: Claim) -> dict[str, Any]:
    return {
        "server": claim.server,
        "workflow_id": claim.workflow_id,
        "task_id": claim.task_id,
        "token": claim.lease.token,
        "expires_at": claim.lease.expires_at.isoformat(),
        "reused": claim.reused,
    }


async def _held_claim(fleet: ServerFleet, name: str, task_id: str) -> Claim:
    """The live claim `task_id` holds on server `name`, looked up in the lease store."""
    if fleet.db is None:
        fail("claims need MongoDB (MONGO_URI)")
    workflow_id = workflow_id_for(name)
    async with fleet.mongo(f"look up the claims on {name}") as db:
        leases = await LeaseStore(db).holders(claim_resource(workflow_id))
    for lease in leases:
        if lease.owner == task_id:
            return Claim(
                server=name, workflow_id=workflow_id, task_id=task_id, lease=lease, reused=True
            )
    # Say why: an unknown or finished server is not a lapsed claim.
    found = await fleet.status(name)
    if found.state in FINAL_STATES:
        fail(f"server {name} has finished ({found.state}); task {task_id} holds no claim on it")
    fail(f"task {task_id} holds no live claim on {name} (it lapsed or was released)")


def register(app: typer.Typer) -> None:
    pool_app = typer.Typer(
        help="Warm pools: keep idle servers ready for jobs.", no_args_is_help=True
    )
    app.add_typer(pool_app, name="pool")

    @app.command()
    def claim(
        task: Annotated[str, typer.Option("--task", help="The job's id; it owns the claim.")],
        provider: ProviderOption = DEFAULT_PROVIDER,
        region: RegionOption = None,
        plan: PlanOption = None,
        image: ImageOption = None,
        ttl: TtlOption = 300,
        as_json: JsonFlag = False,
    ) -> None:
        """Hand a job a server of that provider, region and plan: an available one already
        paid for (most paid time left first), else a new one within the quota, waited
        for. Renew with `heartbeat`; a claim not renewed within --ttl lapses and the
        server goes back to IDLE."""
        settings = load_cli_settings()
        try:
            region, plan, _, image = server_kind(settings, provider, region, plan, image, None)
        except FleetError as exc:
            fail(str(exc), exc.exit_code)

        async def act(fleet: ServerFleet) -> Claim:
            try:
                async with fleet.mongo("claim a server"):
                    return await _broker(fleet).claim(
                        task,
                        region=region,
                        plan=plan,
                        ttl=timedelta(seconds=ttl),
                        provider=provider,
                        image=image,
                    )
            except ClaimError as exc:
                fail(str(exc))

        got = run_with_fleet(settings, act)
        if as_json:
            typer.echo(dump_json(_claim_json(got)))
        else:
            how = "reused (already paid for)" if got.reused else "newly provisioned"
            typer.echo(
                f"{got.task_id} claimed {got.server} ({how}); renew before "
                f"{format_time(got.lease.expires_at, date=True)}"
            )

    @app.command()
    def heartbeat(
        name: Annotated[str, typer.Argument(metavar="NAME")],
        task: Annotated[str, typer.Option("--task")],
        ttl: TtlOption = 300,
    ) -> None:
        """Renew a job's claim on a server for another --ttl seconds."""
        settings = load_cli_settings()

        async def act(fleet: ServerFleet) -> Claim:
            held = await _held_claim(fleet, name, task)
            try:
                async with fleet.mongo(f"renew the claim on {name}"):
                    return await _broker(fleet).heartbeat(held, timedelta(seconds=ttl))
            except ClaimError as exc:
                fail(str(exc))

        renewed = run_with_fleet(settings, act)
        typer.echo(f"claim renewed until {format_time(renewed.lease.expires_at, date=True)}")

    @app.command()
    def release(
        name: Annotated[str, typer.Argument(metavar="NAME")],
        task: Annotated[str, typer.Option("--task")],
    ) -> None:
        """End a job's claim: the server goes IDLE (and is deleted at its deadline)."""
        settings = load_cli_settings()

        async def act(fleet: ServerFleet) -> None:
            held = await _held_claim(fleet, name, task)
            async with fleet.mongo(f"release the claim on {name}"):
                await _broker(fleet).release(held)

        run_with_fleet(settings, act)
        typer.echo(f"{task} released {name}")

    @app.command()
    def cost(
        since: Annotated[
            datetime | None, typer.Option(help="Only servers alive at or after this time (UTC).")
        ] = None,
        idle_timeout: Annotated[
            float, typer.Option("--idle-timeout", min=0, help="Minutes, for the comparison column.")
        ] = 10,
        as_json: JsonFlag = False,
    ) -> None:
        """Billed hours and cost per server and in total (terminated included), busy and
        paid-but-idle hours, and what a "terminate after N idle minutes" policy would
        have paid for the same jobs. Per-second servers count seconds and compare with
        deleting at once when idle and with keeping them running."""
        settings = load_cli_settings()
        start = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since

        async def act(fleet: ServerFleet) -> CostReport:
            # Each server is priced by its own recorded period; this one only for
            # records that predate it.
            async with fleet.mongo("load the cost report") as db:
                return await load_cost_report(
                    db,
                    timedelta(seconds=settings.billing_period_seconds),
                    since=start,
                    idle_timeout=timedelta(minutes=idle_timeout),
                )

        report = run_with_fleet(settings, act, lazy_temporal=True)
        if as_json:
            typer.echo(dump_json(report.model_dump(mode="json")))
            return
        periods = {line.period_seconds for line in report.servers}
        hour = f"{report.period_seconds} s" if len(periods) <= 1 else "each server's period"
        table = Table(title=f"cost (1 h = {hour})", header_style="bold")
        for column in (
            "server",
            "state",
            "plan",
            "billed h",
            "cost",
            "busy h",
            "paid idle h",
            f"idle-{idle_timeout:g}m h",
            f"idle-{idle_timeout:g}m cost",
            "at-once cost",
            "kept cost",
        ):
            table.add_column(
                column, justify="right" if column not in ("server", "state", "plan") else "left"
            )
        for line in report.servers:
            per_second = line.billed_seconds is not None
            table.add_row(
                line.name,
                line.state.value,
                line.plan,
                f"{line.billed_seconds} s" if per_second else str(line.billed_hours),
                format_cost(line.cost),
                f"{line.busy_hours:.2f}",
                f"{line.paid_idle_hours:.2f}",
                "-" if per_second else str(line.idle_timeout_hours),
                "-" if per_second else format_cost(line.idle_timeout_cost),
                _maybe_cost(line.delete_at_once_cost),
                _maybe_cost(line.keep_running_cost),
            )
        table.add_row(
            "total",
            "",
            "",
            f"{report.billed_hours} + {report.billed_seconds} s"
            if report.billed_seconds
            else str(report.billed_hours),
            format_cost(report.cost),
            f"{report.busy_hours:.2f}",
            f"{report.paid_idle_hours:.2f}",
            str(report.idle_timeout_hours),
            format_cost(report.idle_timeout_cost),
            "",
            "",
            style="bold",
        )
        out_console().print(table)

    @app.command()
    def quota(
        set_to: Annotated[
            int | None,
            typer.Option(
                "--set",
                min=1,
                max=MAX_LIMIT,
                help="Store a new account quota (live servers); every worker obeys it at "
                "once. Lowering it retires the slots above it: their servers keep running "
                "and the count falls to the new value as they end.",
            ),
        ] = None,
        provider: Annotated[
            str,
            typer.Option(help=f"Whose account: {', '.join(PROVIDER_IDS)}."),
        ] = DEFAULT_PROVIDER,
        as_json: JsonFlag = False,
    ) -> None:
        """Show a provider account's quota stored in MongoDB (how many servers may be live)
        and how many slots are taken, or change it with --set. Until it is first stored,
        the worker's <PROVIDER>_MAX_SERVERS (else MAX_SERVERS) is stored the first time a
        server takes a slot."""
        if provider not in PROVIDER_IDS:
            fail(f"unknown provider {provider!r} (known: {', '.join(PROVIDER_IDS)})", EXIT_USAGE)
        settings = load_cli_settings()
        resource = quota_resource(provider)

        async def act(fleet: ServerFleet) -> tuple[int | None, int]:
            async with fleet.mongo("read or change the account quota") as db:
                store = LeaseStore(db, write_concern=write_concern(fleet.settings))
                if set_to is not None:
                    await store.set_limit(resource, set_to)
                return await store.get_limit(resource), len(await store.holders(resource))

        limit, taken = run_with_fleet(settings, act)
        if as_json:
            typer.echo(dump_json({"provider": provider, "limit": limit, "taken": taken}))
        elif limit is None:
            typer.echo(
                f"{provider} account quota not stored yet: "
                f"{settings.max_servers_for(provider)} (from the settings) is stored when the "
                f"first server takes a slot ({taken} taken)"
            )
        else:
            typer.echo(f"{provider} account quota: {limit} live servers, {taken} slot(s) taken")

    @app.command()
    def reconcile(as_json: JsonFlag = False) -> None:
        """Run reconciliation once now over every provider the workers serve (the worker
        also runs it on a Schedule): adopt or delete orphans, delete duplicates, end
        servers whose instance is gone. Waits at most 120 s for the run; it needs
        MongoDB, so none starts when MongoDB does not answer."""
        settings = load_cli_settings()

        async def act(fleet: ServerFleet) -> Any:
            async with fleet.mongo("reconcile") as db:
                await db.command("ping")
            handle = await fleet.client.start_workflow(
                ReconcileFleetWorkflow.run,
                reconcile_input(settings),
                id=f"reconcile-now-{uuid.uuid4().hex[:8]}",
                task_queue=settings.temporal_task_queue,
            )
            try:
                return await asyncio.wait_for(handle.result(), RECONCILE_WAIT_SECONDS)
            except TimeoutError:
                fail(
                    f"reconciliation did not finish within {RECONCILE_WAIT_SECONDS} s; it "
                    f"goes on as workflow {handle.id} (see the Temporal web UI)"
                )

        fleet_report = run_with_fleet(settings, act)
        if as_json:
            typer.echo(dump_json(fleet_report.model_dump(mode="json")))
        else:
            for report in fleet_report.reports:
                typer.echo(
                    f"{report.provider}: {report.instances_seen} managed instance(s); "
                    f"{report.not_ours} other instance(s) seen, not ours, left alone"
                    + _named(report.not_ours_ids, report.not_ours)
                )
                for action in report.actions or ["nothing to do"]:
                    typer.echo(f"  {action}")
            for provider, reason in fleet_report.failures.items():
                typer.echo(f"{provider}: reconciliation failed: {reason}")
        if fleet_report.failures:
            raise typer.Exit(1)

    @pool_app.command("start")
    def pool_start(
        pool: Annotated[str, typer.Argument(metavar="POOL", help="Pool name (a-z, 0-9, -).")],
        min_idle: Annotated[int, typer.Option("--min-idle", min=0)],
        provider: ProviderOption = DEFAULT_PROVIDER,
        region: RegionOption = None,
        plan: PlanOption = None,
        image: ImageOption = None,
        os_id: OsIdOption = None,
        hours: Annotated[
            str | None, typer.Option(help="UTC hours to keep it warm, e.g. 8-18 (default: always).")
        ] = None,
    ) -> None:
        """Keep MIN_IDLE servers of one provider, region and plan available."""
        settings = load_cli_settings()
        try:
            region, plan, os_id, image = server_kind(settings, provider, region, plan, image, os_id)
        except FleetError as exc:
            fail(str(exc), exc.exit_code)
        active = None
        if hours:
            try:
                start_h, end_h = (int(part) for part in hours.split("-"))
                active = (start_h, end_h)
            except ValueError:
                fail(f"--hours must look like 8-18, got {hours!r}", EXIT_USAGE)
        try:
            inp = PoolInput(
                pool=pool,
                spec=build_spec(region, plan, os_id, image=image, provider=provider),
                min_idle=min_idle,
                active_hours=active,
            )
        except ValueError as exc:
            fail(f"invalid pool: {exc}", EXIT_USAGE)

        async def act(fleet: ServerFleet) -> None:
            try:
                await fleet.client.start_workflow(
                    WarmPoolWorkflow.run,
                    inp,
                    id=f"pool-{pool}",
                    task_queue=settings.temporal_task_queue,
                    static_summary=f"warm pool {pool}: {min_idle} x {inp.spec.plan} "
                    f"in {inp.spec.provider} {inp.spec.region}",
                )
            except WorkflowAlreadyStartedError:
                fail(
                    f"pool {pool} is already running; change its size with `pool set {pool} "
                    f"--min-idle N`, or `pool stop {pool}` first"
                )

        run_with_fleet(settings, act)
        opens = next_active_start(active, datetime.now(UTC))
        if opens is None:
            typer.echo(f"pool {pool} keeps {min_idle} server(s) available")
        else:
            typer.echo(
                f"pool {pool} started; outside its hours {hours} UTC it keeps none: "
                f"{min_idle} server(s) from {format_time(opens, date=True)}"
            )

    @pool_app.command("set")
    def pool_set(
        pool: Annotated[str, typer.Argument(metavar="POOL")],
        min_idle: Annotated[int, typer.Option("--min-idle", min=0)],
    ) -> None:
        """Change how many servers a pool keeps available."""
        settings = load_cli_settings()

        async def act(fleet: ServerFleet) -> None:
            try:
                await _running_pool(fleet, pool).signal(WarmPoolWorkflow.set_min_idle, min_idle)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    fail(f"no running pool named {pool}; start it with `pool start {pool}`")
                raise

        run_with_fleet(settings, act)
        typer.echo(f"pool {pool} now keeps {min_idle}")

    @pool_app.command("stop")
    def pool_stop(pool: Annotated[str, typer.Argument(metavar="POOL")]) -> None:
        """Stop topping the pool up; its idle members leave at their deadlines."""
        settings = load_cli_settings()

        async def act(fleet: ServerFleet) -> None:
            handle = _running_pool(fleet, pool)
            try:
                description = await handle.describe()
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    fail(f"no pool named {pool}")
                raise
            if description.status != WorkflowExecutionStatus.RUNNING:
                fail(f"pool {pool} is not running")
            # Members consult this at their deadlines: none stays once the pool is gone.
            if fleet.db is not None:
                async with fleet.mongo(f"stop pool {pool}") as db:
                    await db[POOLS_COLLECTION].update_one(
                        {"_id": pool}, {"$set": {"min_idle_now": 0}}
                    )
            await handle.terminate("pool stopped by operator")

        run_with_fleet(settings, act)
        typer.echo(f"pool {pool} stopped")


def _running_pool(fleet: ServerFleet, pool: str) -> Any:
    return fleet.client.get_workflow_handle_for(WarmPoolWorkflow.run, f"pool-{pool}")


def _maybe_cost(cost: float | None) -> str:
    return "-" if cost is None else format_cost(cost)


def _named(ids: list[str], count: int) -> str:
    """The not-ours instances the record names, and how many more it counted."""
    if not ids:
        return ""
    more = f" and {count - len(ids)} more" if count > len(ids) else ""
    return f": {', '.join(ids)}{more}"
