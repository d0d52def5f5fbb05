"""`pool start|set|stop`: warm pools keep idle servers ready for jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.options import (
    ImageOption,
    OsIdOption,
    PlanOption,
    ProviderOption,
    RegionOption,
    server_kind,
)
from cli.render import format_time
from cli.runtime import EXIT_USAGE, fail, load_cli_settings, run_with_fleet
from client.errors import FleetError
from client.fleet import ServerFleet, build_spec
from client.pools import pool_input, set_pool_size, start_pool, stop_pool
from providers import DEFAULT_PROVIDER
from workflows.pool import PoolInput, next_active_start

__all__ = ["pool_app"]

pool_app = typer.Typer(help="Warm pools: keep idle servers ready for jobs.", no_args_is_help=True)

PoolArg = Annotated[str, typer.Argument(metavar="POOL", help="Pool name (a-z, 0-9, -).")]
MinIdleOption = Annotated[int, typer.Option("--min-idle", min=0)]


@pool_app.command("start")
def pool_start(
    pool: PoolArg,
    min_idle: MinIdleOption,
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
    active = _hours(hours)
    try:
        region, plan, os_id, image = server_kind(settings, provider, region, plan, image, os_id)
        inp = pool_input(
            pool, build_spec(region, plan, os_id, image=image, provider=provider), min_idle, active
        )
    except FleetError as exc:
        fail(str(exc), exc.exit_code)

    async def act(fleet: ServerFleet) -> None:
        await start_pool(fleet, inp)

    run_with_fleet(settings, act)
    typer.echo(_started(inp, hours))


@pool_app.command("set")
def pool_set(pool: PoolArg, min_idle: MinIdleOption) -> None:
    """Change how many servers a pool keeps available."""
    settings = load_cli_settings()

    async def act(fleet: ServerFleet) -> None:
        await set_pool_size(fleet, pool, min_idle)

    run_with_fleet(settings, act)
    typer.echo(f"pool {pool} now keeps {min_idle}")


@pool_app.command("stop")
def pool_stop(pool: PoolArg) -> None:
    """Stop topping the pool up; its idle members leave at their deadlines."""
    settings = load_cli_settings()

    async def act(fleet: ServerFleet) -> None:
        await stop_pool(fleet, pool)

    run_with_fleet(settings, act)
    typer.echo(f"pool {pool} stopped")


def _hours(hours: str | None) -> tuple[int, int] | None:
    if not hours:
        return None
    try:
        start_h, end_h = (int(part) for part in hours.split("-"))
    except ValueError:
        fail(f"--hours must look like 8-18, got {hours!r}", EXIT_USAGE)
    return start_h, end_h


def _started(inp: PoolInput, hours: str | None) -> str:
    opens = next_active_start(inp.active_hours, datetime.now(UTC))
    if opens is None:
        return f"pool {inp.pool} keeps {inp.min_idle} server(s) available"
    return (
        f"pool {inp.pool} started; outside its hours {hours} UTC it keeps none: "
        f"{inp.min_idle} server(s) from {format_time(opens, date=True)}"
    )
