"""Fleet-wide commands: the cost report, an account's quota, reconciliation on demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from activities.reconcile import FleetReconcileReport
from cli.options import JsonFlag
from cli.render import dump_json, format_cost
from cli.runtime import EXIT_USAGE, fail, load_cli_settings, out_console, run_with_fleet
from client.fleet import ServerFleet
from client.fleet_admin import AccountQuota, account_quota, reconcile_now
from client.reports import load_cost_report
from core.cost import CostReport
from leases import MAX_LIMIT
from providers import DEFAULT_PROVIDER, PROVIDER_IDS

__all__ = ["register"]

# Longest `reconcile` waits for the run it started; the run itself goes on.
RECONCILE_WAIT_SECONDS = 120


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

    async def act(fleet: ServerFleet) -> AccountQuota:
        return await account_quota(fleet, provider, set_to)

    quota = run_with_fleet(settings, act)
    if as_json:
        typer.echo(dump_json(quota.model_dump()))
    elif quota.limit is None:
        typer.echo(
            f"{provider} account quota not stored yet: "
            f"{settings.max_servers_for(provider)} (from the settings) is stored when the "
            f"first server takes a slot ({quota.taken} taken)"
        )
    else:
        typer.echo(
            f"{provider} account quota: {quota.limit} live servers, {quota.taken} slot(s) taken"
        )


def reconcile(as_json: JsonFlag = False) -> None:
    """Run reconciliation once now over every provider the workers serve (the worker
    also runs it on a Schedule): adopt or delete orphans, delete duplicates, end
    servers whose instance is gone. Waits at most 120 s for the run; it needs
    MongoDB, so none starts when MongoDB does not answer."""
    settings = load_cli_settings()

    async def act(fleet: ServerFleet) -> FleetReconcileReport:
        return await reconcile_now(fleet, RECONCILE_WAIT_SECONDS)

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


def register(app: typer.Typer) -> None:
    for command in (cost, quota, reconcile):
        app.command()(command)


def _maybe_cost(cost: float | None) -> str:
    return "-" if cost is None else format_cost(cost)


def _named(ids: list[str], count: int) -> str:
    """The not-ours instances the record names, and how many more it counted."""
    if not ids:
        return ""
    more = f" and {count - len(ids)} more" if count > len(ids) else ""
    return f": {', '.join(ids)}{more}"
