"""The operator CLI (`python starter.py ...`): provision servers, mark them busy or idle,
terminate them, look at them, and run the local stack or a demo."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cli import claims, fleet_ops
from cli.bulk import Selector, terminate_selection
from cli.inputs import batch_names, read_cloud_init
from cli.options import (
    ImageOption,
    JsonFlag,
    OsIdOption,
    PlanOption,
    ProviderOption,
    RegionOption,
    server_kind,
)
from cli.pools import pool_app
from cli.provisioning import provision_batch
from cli.render import (
    dump_json,
    fleet_table,
    format_time,
    status_detail_json,
    status_json,
    status_view,
)
from cli.runtime import (
    EXIT_FAILURE,
    EXIT_USAGE,
    err_console,
    fail,
    load_cli_settings,
    out_console,
    run_with_fleet,
)
from client.errors import FleetError
from client.fleet import ServerFleet, build_overrides, build_spec
from core.lifecycle import ServerState
from core.models import ServerStatus
from core.settings import SettingsError
from providers import DEFAULT_PROVIDER, PROVIDER_IDS

__all__ = ["app", "main"]

app = typer.Typer(
    name="starter.py",
    help="Cost-aware lifecycle manager for rented Vultr, Hetzner Cloud and DigitalOcean "
    "servers. Settings come from the environment and .env (TEMPORAL_ADDRESS, MONGO_URI, "
    "VULTR_API_KEY, ...).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

BusyTaskOption = Annotated[
    str,
    typer.Option("--task", help="Id of the job that starts (1-200 chars); `idle` with it ends it."),
]
IdleTaskOption = Annotated[
    str, typer.Option("--task", help="Id of the finished job, as given to `busy`.")
]
NameArg = Annotated[
    str, typer.Argument(metavar="NAME", help="Server name (the workflow id is server-NAME).")
]


class WaitFor(StrEnum):
    ready = "ready"


def _print_status(status: ServerStatus, as_json: bool, line: str) -> None:
    if as_json:
        typer.echo(dump_json(status_json(status)))
    else:
        typer.echo(line)


@app.command()
def provision(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="Server name; with --count, the prefix of NAME-1..NAME-N."
        ),
    ],
    provider: ProviderOption = DEFAULT_PROVIDER,
    region: RegionOption = None,
    plan: PlanOption = None,
    image: ImageOption = None,
    os_id: OsIdOption = None,
    cloud_init: Annotated[
        Path | None,
        typer.Option("--cloud-init", metavar="FILE", help="cloud-init user data (max 64 KiB)."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", metavar="T", help="Vultr tag; repeatable.")
    ] = None,
    ssh_key_id: Annotated[
        list[str] | None,
        typer.Option("--ssh-key-id", metavar="ID", help="Vultr SSH key id; repeatable."),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(min=1, max=500, help="Start N servers named NAME-1..NAME-N."),
    ] = None,
    wait: Annotated[
        WaitFor | None,
        typer.Option(help="Wait until every server is READY; exit 1 if one fails."),
    ] = None,
    wait_timeout: Annotated[
        float | None,
        typer.Option(
            min=1, help="Seconds to wait with --wait. [default: READINESS_TIMEOUT_SECONDS + 60]"
        ),
    ] = None,
    max_idle: Annotated[
        int | None,
        typer.Option(
            "--max-idle",
            metavar="SECONDS",
            help="Also delete after this much idle time, before the deadline.",
        ),
    ] = None,
    max_lifetime: Annotated[
        int | None,
        typer.Option(
            "--max-lifetime",
            metavar="SECONDS",
            help="Delete at the first deadline after this much life, busy or not.",
        ),
    ] = None,
    idle_window: Annotated[
        int | None,
        typer.Option(
            "--idle-window",
            metavar="SECONDS",
            help="Per-second billing (DigitalOcean): delete this long after the last job "
            "ends. [default: IDLE_WINDOW_SECONDS or 300]",
        ),
    ] = None,
    keep_idle: Annotated[
        bool,
        typer.Option(
            "--keep-idle",
            help="Keep idle servers past deadlines (then only --max-idle, --max-lifetime "
            "or terminate end them).",
        ),
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="With --count, leave names already running alone and start the rest "
            "(without it, one running name starts none).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Start server workflows. Region, plan and image are checked against the provider's
    catalog first: nothing starts when one is unknown. The DEFAULT_* settings are
    Vultr's: other providers need --region, --plan and --image.

    JSON: an object per server ({name, workflow_id, run_id, state} without --wait, the
    status object with it); a list with --count.
    """
    settings = load_cli_settings()
    try:
        region, plan, os_id, image = server_kind(settings, provider, region, plan, image, os_id)
        names = batch_names(name, count)
        spec = build_spec(
            region,
            plan,
            os_id,
            image=image,
            cloud_init=read_cloud_init(cloud_init) if cloud_init is not None else None,
            tags=tag or (),
            ssh_key_ids=ssh_key_id or (),
            provider=provider,
        )
        # Only what was set: the worker fills in the rest (its billing period, margin).
        policy = build_overrides(
            max_idle_seconds=max_idle,
            max_lifetime_seconds=max_lifetime,
            idle_window_seconds=idle_window,
            terminate_idle_at_deadline=False if keep_idle else None,
        )
    except FleetError as exc:
        fail(str(exc), exc.exit_code)
    timeout = wait_timeout or float(settings.readiness_timeout_seconds + 60)
    outcomes = run_with_fleet(
        settings,
        lambda fleet: provision_batch(
            fleet,
            names,
            spec,
            policy=policy,
            wait=wait is not None,
            wait_timeout=timeout,
            progress_console=err_console() if count is not None else None,
            skip_existing=skip_existing,
        ),
    )
    good = [o for o in outcomes if o.error is None and not o.skipped]
    for outcome in outcomes:
        if outcome.skipped:
            typer.echo(outcome.describe(), err=as_json)
    if as_json:
        shapes = [o.as_json() for o in good]
        if count is None and shapes:
            typer.echo(dump_json(shapes[0]))
        elif count is not None:
            typer.echo(dump_json(shapes))
    else:
        for outcome in good:
            typer.echo(outcome.describe())
    failed = [o for o in outcomes if o.error is not None]
    for outcome in failed:
        typer.echo(f"error: {outcome.error}", err=True)
    if failed:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def busy(name: NameArg, task: BusyTaskOption, as_json: JsonFlag = False) -> None:
    """A job starts on the server: it is EXECUTING and never deleted while any job runs.
    A task id that already finished on this server is not started again."""
    settings = load_cli_settings()
    status = run_with_fleet(settings, lambda fleet: fleet.busy(name, task))
    _print_status(
        status, as_json, f"{name}: {status.state} (tasks: {', '.join(status.active_tasks)})"
    )


@app.command()
def idle(name: NameArg, task: IdleTaskOption, as_json: JsonFlag = False) -> None:
    """A job has finished on the server. Once no job runs it is IDLE and is deleted
    just before its next billing boundary unless a job arrives; a task that is not
    running is refused."""
    settings = load_cli_settings()
    status = run_with_fleet(settings, lambda fleet: fleet.idle(name, task))
    running = ", ".join(status.active_tasks)
    line = f"{name}: task {task} finished; " + (
        f"still busy with {running}"
        if running
        else f"idle, deleted at {format_time(status.terminate_at, date=True)} unless a task arrives"
        if status.terminate_at is not None
        else "idle, kept until terminated (--keep-idle)"
    )
    _print_status(status, as_json, line)


@app.command()
def terminate(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME", help="Server name; or select servers with the options below."
        ),
    ] = None,
    now: Annotated[
        bool, typer.Option("--now", help="Delete at once, even if busy or the hour is paid.")
    ] = False,
    reason: Annotated[
        str, typer.Option(help="Why; recorded in the server's timeline.")
    ] = "requested by operator",
    all_: Annotated[bool, typer.Option("--all", help="Select every running server.")] = False,
    state: Annotated[
        ServerState | None,
        typer.Option(case_sensitive=False, help="Select the running servers in this state."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="T", help="Select servers with this tag; repeatable."),
    ] = None,
    pool: Annotated[
        str | None, typer.Option(metavar="POOL", help="Select the members of this pool.")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before terminating a selection.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Terminate the server: at its next deadline once idle, or at once with --now.

    With --all, --state, --tag or --pool instead of NAME, terminate every running server
    that matches (all of the options given), after a confirmation (--yes skips it; it is
    required without a terminal).
    """
    selector = Selector(all=all_, state=state, tags=tuple(tag or ()), pool=pool)
    if selector.given or name is None:
        terminate_selection(selector, name, now=now, reason=reason, yes=yes, as_json=as_json)
        return
    settings = load_cli_settings()
    status = run_with_fleet(settings, lambda fleet: fleet.terminate(name, reason, now))
    if now:
        line = f"{name}: termination requested; deleting it now"
    else:
        line = (
            f"{name}: termination requested; deleted at "
            f"{format_time(status.terminate_at, date=True)} once idle (--now deletes at once)"
        )
    _print_status(status, as_json, line)


@app.command()
def status(name: NameArg, as_json: JsonFlag = False) -> None:
    """Show one server: live from its workflow, or its last record once it has ended."""
    settings = load_cli_settings()
    found = run_with_fleet(settings, lambda fleet: fleet.status(name))
    if as_json:
        typer.echo(dump_json(status_detail_json(found)))
    else:
        out_console().print(status_view(found))


@app.command("list")
def list_servers(
    state: Annotated[
        ServerState | None,
        typer.Option(case_sensitive=False, help="Only servers in this state."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include TERMINATED and ERROR servers.")
    ] = False,
    provider: Annotated[
        str | None,
        typer.Option(help=f"Only this provider's servers: {', '.join(PROVIDER_IDS)}."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List servers (latest of each name) from the read model."""
    settings = load_cli_settings()
    if provider is not None and provider not in PROVIDER_IDS:
        fail(f"unknown provider {provider!r} (known: {', '.join(PROVIDER_IDS)})", EXIT_USAGE)

    async def fetch(fleet: ServerFleet) -> list[ServerStatus]:
        return await fleet.list(state, include_finished=all_, provider=provider)

    # The read model is MongoDB only: Temporal may be down.
    servers = run_with_fleet(settings, fetch, lazy_temporal=True)
    if as_json:
        typer.echo(dump_json([status_json(s) for s in servers]))
    elif not servers:
        hint = "" if all_ or state else " (--all includes finished ones)"
        typer.echo(f"no servers{hint}")
    else:
        out_console().print(fleet_table(servers))


@app.command()
def dev() -> None:
    """Run the local stack (Temporal dev server + UI, embedded MongoDB, Vultr emulator,
    worker) in the foreground until Ctrl-C. DEVSTACK_* variables configure it."""
    from devstack.stack import DevStackOptions, run_devstack

    try:
        options = DevStackOptions.from_environment()
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)
    raise typer.Exit(run_devstack(options))


@app.command()
def demo(
    servers: Annotated[
        int, typer.Option(min=1, max=6, help="How many servers to run at each provider.")
    ] = 3,
    keep_stack: Annotated[
        bool,
        typer.Option("--keep-stack", help="Keep the stack running after the demo until Ctrl-C."),
    ] = False,
) -> None:
    """A two-minute tour on a private local stack with a 60 s billing "hour": servers
    are provisioned at Vultr and Hetzner (their emulators), jobs mark them busy and idle,
    idle ones are deleted just before their boundary, and each provider's bill is
    compared with its emulator's ledger."""
    from cli.demo import run_demo

    raise typer.Exit(run_demo(servers=servers, keep_stack=keep_stack))


claims.register(app)
fleet_ops.register(app)
app.add_typer(pool_app, name="pool")


def main() -> NoReturn:
    """Run the CLI and exit without interpreter teardown.

    The Temporal client's native threads can outlive the event loop, and a normal
    interpreter shutdown then sometimes aborts with "PyGILState_Release: thread state
    must be current" (temporalio/sdk-python#300), turning a finished command into exit
    134. Every command has closed what it opened by now, so skipping teardown is safe.
    """
    try:
        app(prog_name="starter.py")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (`| head`): nothing left to say
            pass
    os._exit(code)
