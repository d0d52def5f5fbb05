"""`terminate` by selector: pick servers from the read model, confirm, end them in
parallel with a progress bar."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.render import dump_json, status_json
from cli.runtime import (
    EXIT_FAILURE,
    EXIT_USAGE,
    err_console,
    fail,
    load_cli_settings,
    run_with_fleet,
)
from client.errors import FleetError
from client.fleet import ServerFleet, checked_request
from core.lifecycle import ServerState
from core.models import ServerStatus, TerminationRequest

__all__ = [
    "Selector",
    "confirm_or_refuse",
    "select_servers",
    "terminate_all",
    "terminate_selection",
]

# Terminations in flight at once: each is one update, the workflows delete on their own.
TERMINATE_CONCURRENCY = 8
# Names shown in the confirmation before "and N more".
SHOWN_NAMES = 10


@dataclass(frozen=True)
class Selector:
    all: bool = False
    state: ServerState | None = None
    tags: tuple[str, ...] = ()
    pool: str | None = None

    @property
    def given(self) -> bool:
        return self.all or self.state is not None or bool(self.tags) or self.pool is not None

    def describe(self) -> str:
        parts = ["all"] if self.all else []
        if self.state is not None:
            parts.append(f"state {self.state}")
        parts += [f"tag {t}" for t in self.tags]
        if self.pool is not None:
            parts.append(f"pool {self.pool}")
        return ", ".join(parts)

    def matches(self, server: ServerStatus) -> bool:
        return (
            (self.state is None or server.state == self.state)
            and all(tag in server.tags for tag in self.tags)
            and (self.pool is None or server.pool == self.pool)
        )


async def select_servers(fleet: ServerFleet, selector: Selector) -> list[ServerStatus]:
    """Running servers that match, from the read model; TERMINATING ones are already
    being deleted and are left out."""
    servers = await fleet.list(selector.state)
    return [
        s
        for s in servers
        if s.state not in (ServerState.TERMINATING, ServerState.TERMINATED, ServerState.ERROR)
        and selector.matches(s)
    ]


def confirm_or_refuse(names: Sequence[str], what: str, assume_yes: bool) -> None:
    """Ask on a terminal; without one, only --yes goes ahead (a script must say so)."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        fail(
            f"refusing to {what} {len(names)} server(s) without confirmation: stdin is not "
            "a terminal; pass --yes",
            EXIT_USAGE,
        )
    shown = ", ".join(names[:SHOWN_NAMES])
    if len(names) > SHOWN_NAMES:
        shown += f" and {len(names) - SHOWN_NAMES} more"
    if not typer.confirm(f"{what} {len(names)} server(s): {shown}?", err=True):
        fail("nothing terminated", EXIT_USAGE)


async def terminate_all(
    fleet: ServerFleet,
    names: Sequence[str],
    *,
    reason: str,
    now: bool,
    progress_console: Console,
) -> list[tuple[str, ServerStatus | FleetError]]:
    """Terminate each server; per-server failures are returned, not raised."""
    gate = asyncio.Semaphore(TERMINATE_CONCURRENCY)
    progress = Progress(
        TextColumn("terminating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress_console,
    )
    with progress:
        bar = progress.add_task("terminating", total=len(names))

        async def one(name: str) -> tuple[str, ServerStatus | FleetError]:
            try:
                async with gate:
                    return name, await fleet.terminate(name, reason, now)
            except FleetError as exc:
                return name, exc
            finally:
                progress.advance(bar)

        return list(await asyncio.gather(*(one(name) for name in names)))


def terminate_selection(
    selector: Selector, name: str | None, *, now: bool, reason: str, yes: bool, as_json: bool
) -> None:
    """`terminate --all/--state/--tag/--pool`: select, confirm, terminate, report."""
    if name is not None:
        fail("give NAME or a selector (--all, --state, --tag, --pool), not both", EXIT_USAGE)
    if not selector.given:
        fail(
            "give a server NAME, or select servers with --all, --state, --tag or --pool", EXIT_USAGE
        )
    settings = load_cli_settings()
    try:  # once here, not once per server
        checked_request("terminate", TerminationRequest, reason=reason, immediately=now)
    except FleetError as exc:
        fail(str(exc), exc.exit_code)
    chosen = run_with_fleet(settings, lambda fleet: select_servers(fleet, selector))
    names = [s.name for s in chosen]
    if not names:
        if as_json:
            typer.echo(dump_json([]))
        typer.echo(
            f"no running server matches {selector.describe()}; nothing terminated", err=as_json
        )
        return
    confirm_or_refuse(names, "terminate", yes)
    results = run_with_fleet(
        settings,
        lambda fleet: terminate_all(
            fleet, names, reason=reason, now=now, progress_console=err_console()
        ),
    )
    done = [status for _, status in results if isinstance(status, ServerStatus)]
    failed = [(n, error) for n, error in results if isinstance(error, FleetError)]
    if as_json:
        typer.echo(dump_json([status_json(s) for s in done]))
    else:
        when = "deleting them now" if now else "each deleted at its next deadline once idle"
        typer.echo(f"termination requested for {len(done)} of {len(names)} server(s); {when}")
    for failed_name, error in failed:
        typer.echo(f"error: {failed_name}: {error}", err=True)
    if failed:
        raise typer.Exit(EXIT_FAILURE)
