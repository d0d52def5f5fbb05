"""How the CLI shows servers: a fixed JSON shape for scripts, rich tables for people."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from core.lifecycle import ServerState
from core.models import ServerStatus

__all__ = [
    "DETAIL_FIELDS",
    "JSON_FIELDS",
    "dump_json",
    "fleet_table",
    "format_cost",
    "format_time",
    "status_detail_json",
    "pending_termination",
    "status_json",
    "state_text",
    "status_view",
]

# The JSON contract of `status`, `list` and the commands that answer with a status:
# exactly these keys, in this order, times as ISO-8601 in UTC.
JSON_FIELDS: tuple[str, ...] = (
    "name",
    "workflow_id",
    "state",
    "instance_id",
    "main_ip",
    "provider",
    "region",
    "plan",
    "billing_start",
    "next_boundary",
    "terminate_at",
    "termination",
    "billed_hours",
    "cost",
)

STATE_STYLES: dict[ServerState, str] = {
    ServerState.PROVISIONING: "yellow",
    ServerState.READY: "green",
    ServerState.EXECUTING: "bold cyan",
    ServerState.IDLE: "green",
    ServerState.TERMINATING: "magenta",
    ServerState.TERMINATED: "dim",
    ServerState.ERROR: "bold red",
}


# `status --json` adds what runs there and what happened to it: JSON_FIELDS, then these.
DETAIL_FIELDS: tuple[str, ...] = ("active_tasks", "error", "rejected", "timeline")


def status_json(status: ServerStatus) -> dict[str, Any]:
    data = status.model_dump(mode="json", include=set(JSON_FIELDS))
    return {key: data[key] for key in JSON_FIELDS}


def status_detail_json(status: ServerStatus) -> dict[str, Any]:
    """One server in full: `status_json` plus DETAIL_FIELDS."""
    data = status.model_dump(mode="json", include=set(DETAIL_FIELDS))
    return status_json(status) | {key: data[key] for key in DETAIL_FIELDS}


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2)


def format_time(moment: datetime | None, *, date: bool = False) -> str:
    """UTC time of day, or date and time with `date` (then suffixed " UTC"); "-" for none."""
    if moment is None:
        return "-"
    shown = moment.astimezone(UTC)
    return shown.strftime("%Y-%m-%d %H:%M:%S UTC") if date else shown.strftime("%H:%M:%S")


def format_cost(cost: float) -> str:
    return f"${cost:.4f}"


def state_text(state: ServerState) -> Text:
    return Text(state.value, style=STATE_STYLES.get(state, ""))


def fleet_table(servers: Sequence[ServerStatus], *, title: str | None = None) -> Table:
    """One row per server; times in UTC."""
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("name", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("instance", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("ip", no_wrap=True)
    table.add_column("where", no_wrap=True)
    table.add_column("terminate at (UTC)", no_wrap=True)
    table.add_column("billed h", justify="right")
    table.add_column("cost", justify="right")
    for s in servers:
        table.add_row(
            s.name,
            state_text(s.state),
            s.instance_id or "-",
            s.main_ip or "-",
            f"{s.region} {s.plan}",
            format_time(s.terminate_at),
            billed_text(s),
            format_cost(s.cost),
        )
    return table


def _rows(pairs: Iterable[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, value if isinstance(value, Text) else str(value))
    return grid


def pending_termination(status: ServerStatus) -> str:
    """A requested termination not yet carried out: when, and why; "none" otherwise."""
    request = status.termination
    if request is None:
        return "none"
    if request.immediately:
        return f"pending now: {request.reason}"
    when = format_time(status.terminate_at, date=True)
    return f"pending at {when} once idle: {request.reason}"


def billed_text(status: ServerStatus) -> str:
    """Hours billed, or seconds for a per-second server."""
    if status.billed_seconds is not None:
        return f"{status.billed_seconds} s"
    return f"{status.billed_hours} h"


def terminate_text(status: ServerStatus) -> str:
    """When the server goes; an idle per-second server says it is its idle window."""
    s = status
    model = s.billing_model
    idle_window = model is not None and model.per_second and not s.active_tasks
    if s.terminate_at is not None and idle_window and s.termination is None:
        return f"deleting at {format_time(s.terminate_at)} (idle window)"
    if s.terminate_at is not None and s.planned_from is not None:
        early = (s.planned_from - s.terminate_at).total_seconds()
        when = format_time(s.terminate_at, date=True)
        return f"deleting at {when}, {early:.0f} s early (delete plan)"
    return format_time(s.terminate_at, date=True)


def status_view(status: ServerStatus) -> Group:
    """One server in detail: identity, billing, tasks, and its timeline."""
    s = status
    pairs: list[tuple[str, Any]] = [
        ("name", s.name),
        ("workflow", s.workflow_id),
        ("state", state_text(s.state)),
        ("instance", s.instance_id or "-"),
        ("ip", s.main_ip or "-"),
        ("region / plan", f"{s.region} / {s.plan}"),
        ("billing start", format_time(s.billing_start, date=True)),
        ("next boundary", format_time(s.next_boundary, date=True)),
        ("terminate at", terminate_text(s)),
        ("termination", pending_termination(s)),
        ("deleted at", format_time(s.deleted_at, date=True)),
        ("billed", f"{billed_text(s)}, {format_cost(s.cost)}"),
        ("busy", f"{s.busy_seconds:.0f} s"),
        ("tasks", ", ".join(s.active_tasks) or "none"),
    ]
    if s.error:
        pairs.append(("error", Text(s.error, style="red")))
    # Refused signals: their senders got no answer, so this is where they can look.
    for i, message in enumerate(s.rejected):
        pairs.append(("rejected" if i == 0 else "", Text(message, style="yellow")))
    parts: list[Any] = [_rows(pairs)]
    if s.timeline:
        timeline = Table(title="timeline (UTC)", title_justify="left", header_style="bold")
        timeline.add_column("at", no_wrap=True)
        timeline.add_column("state", no_wrap=True)
        timeline.add_column("reason")
        for entry in s.timeline:
            timeline.add_row(
                entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                state_text(entry.state),
                entry.reason,
            )
        parts.append(timeline)
    return Group(*parts)
