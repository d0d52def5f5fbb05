"""`provision`: start one server or a batch, optionally waiting until they serve."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.render import format_time, status_json
from client.errors import FleetError, InvalidRequest
from client.fleet import ServerFleet
from core.lifecycle import SERVING_STATES, ServerState
from core.models import PolicyOverrides, ServerSpec, ServerStatus, workflow_id_for

__all__ = ["Outcome", "provision_batch"]

# "Ready" for --wait: booted and serving; a job may already have marked it busy.
# Starts in flight at once: enough to start hundreds quickly without flooding Temporal.
START_CONCURRENCY = 8


@dataclass
class Outcome:
    name: str
    run_id: str | None = None
    status: ServerStatus | None = None
    error: FleetError | None = None
    skipped: bool = False  # already running; left alone (--skip-existing)

    def as_json(self) -> dict[str, Any]:
        if self.status is not None:
            return status_json(self.status)
        return {
            "name": self.name,
            "workflow_id": workflow_id_for(self.name),
            "run_id": self.run_id,
            "state": ServerState.PROVISIONING.value,
        }

    def describe(self) -> str:
        if self.skipped:
            return f"skipped {self.name}: already running"
        if self.status is None:
            return f"started {self.name} (workflow {workflow_id_for(self.name)})"
        s = self.status
        line = f"{s.name} is {s.state}: instance {s.instance_id} at {s.main_ip}"
        if s.terminate_at is not None:
            window = " (idle window)" if s.billing_model and s.billing_model.per_second else ""
            line += f"; deleted at {format_time(s.terminate_at, date=True)}{window} unless busy"
        else:
            line += "; kept while idle until terminated"
        return line


async def taken_names(
    fleet: ServerFleet, names: Sequence[str], gate: asyncio.Semaphore
) -> list[str]:
    """The names whose server is running now."""

    async def running(name: str) -> bool:
        async with gate:
            return await fleet.is_running(name)

    flags = await asyncio.gather(*(running(name) for name in names))
    return [name for name, flag in zip(names, flags, strict=True) if flag]


async def provision_batch(
    fleet: ServerFleet,
    names: Sequence[str],
    spec: ServerSpec,
    *,
    policy: PolicyOverrides | None = None,
    wait: bool,
    wait_timeout: float,
    progress_console: Console | None,
    skip_existing: bool = False,
) -> list[Outcome]:
    """Start every name (the spec is checked once first: a bad one starts nothing; in a
    batch, so is every name: one already running starts none, or with `skip_existing`
    is left alone and reported as skipped).

    Per-server failures are returned in `Outcome.error`; a progress bar is drawn on
    `progress_console` when given.
    """
    await fleet.check_spec(spec)
    gate = asyncio.Semaphore(START_CONCURRENCY)
    skipped: list[str] = []
    if len(names) > 1:
        taken = await taken_names(fleet, names, gate)
        if taken and not skip_existing:
            raise InvalidRequest(
                f"{len(taken)} of {len(names)} name(s) already in use, nothing started: "
                f"{', '.join(taken)}; choose another prefix, pass --skip-existing, or "
                "terminate those first"
            )
        skipped = taken
        names = [name for name in names if name not in taken]
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress_console,
        disable=progress_console is None,
    )
    with progress:
        started = progress.add_task("starting", total=len(names))
        ready = progress.add_task("waiting for READY", total=len(names), visible=wait)

        async def one(name: str) -> Outcome:
            outcome = Outcome(name)
            try:
                async with gate:
                    handle = await fleet.provision(name, spec, policy)
                outcome.run_id = handle.result_run_id
                progress.advance(started)
                if wait:
                    outcome.status = await fleet.wait_for_state(name, SERVING_STATES, wait_timeout)
            except FleetError as exc:
                outcome.error = exc
                if outcome.run_id is None:
                    progress.advance(started)
            if wait:
                progress.advance(ready)
            return outcome

        outcomes = list(await asyncio.gather(*(one(name) for name in names)))
    return [Outcome(name, skipped=True) for name in skipped] + outcomes
