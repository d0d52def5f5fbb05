"""Shared pieces of the fault scenarios: the emulator ledger read as a verdict, the
project's workers wired in-process against any Temporal/MongoDB/emulator, and what a
workflow's history says about activities that were retried after a timeout."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from activities.fleet_store import ensure_read_model_indexes
from core.settings import Settings, load_settings
from leases import LeaseStore
from tests.integration.support import Fleet
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from worker import build_workers, open_providers

__all__ = [
    "ActivitySpan",
    "LedgerVerdict",
    "Recovery",
    "activity_spans",
    "count_by",
    "explain_extra_hours",
    "explain_unfinished",
    "fleet_in_process",
    "ledger",
    "recovered_activities",
    "unique",
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class LedgerVerdict:
    """The emulator's ledger (its own billing, independent of ours) judged against what
    the policy intends each server to cost, keyed by Vultr label (= workflow id)."""

    rows: list[dict[str, Any]]
    intended: Mapping[str, int] = field(default_factory=dict)

    @property
    def by_label(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            grouped.setdefault(row["label"], []).append(row)
        return grouped

    @property
    def duplicates(self) -> dict[str, list[str]]:
        """Labels with more than one instance ever created, and their instance ids."""
        return {
            label: [r["instance_id"] for r in rows]
            for label, rows in self.by_label.items()
            if len(rows) > 1
        }

    @property
    def leftovers(self) -> list[str]:
        """Instances never deleted: they would bill forever."""
        return [r["instance_id"] for r in self.rows if r["deleted_at"] is None]

    @property
    def units(self) -> dict[str, int]:
        return {label: sum(r["units"] for r in rows) for label, rows in self.by_label.items()}

    @property
    def extra_hours(self) -> dict[str, int]:
        """Billed periods beyond the intended ones, per label (duplicates included)."""
        extra = {
            label: units - self.intended.get(label, 0)
            for label, units in self.units.items()
            if units > self.intended.get(label, 0)
        }
        return dict(sorted(extra.items()))

    @property
    def missing(self) -> list[str]:
        """Labels that should have had an instance but have none."""
        return sorted(set(self.intended) - set(self.by_label))

    def peak_overlap(self) -> int:
        """Most instances alive at one moment (creation and deletion instants)."""
        events: list[tuple[datetime, int]] = []
        for row in self.rows:
            created, deleted = _at(row["created_at"]), _at(row["deleted_at"])
            assert created is not None
            events.append((created, 1))
            if deleted is not None:
                events.append((deleted, -1))
        live = peak = 0
        # Deletions first at equal instants: a slot freed and retaken is not an overlap.
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):
            live += step
            peak = max(peak, live)
        return peak

    def summary(self) -> str:
        extra = self.extra_hours
        return (
            f"instances={len(self.rows)} labels={len(self.by_label)} "
            f"duplicates={sum(len(v) - 1 for v in self.duplicates.values())} "
            f"leftovers={len(self.leftovers)} extra_billed_hours={sum(extra.values())} "
            f"{extra if extra else ''}"
        ).strip()


def ledger(emulator: RunningEmulator, intended: Mapping[str, int] | None = None) -> LedgerVerdict:
    rows = emulator.admin("GET", "/ledger").json()["ledger"]
    return LedgerVerdict(rows, dict(intended or {}))


@asynccontextmanager
async def fleet_in_process(
    client: Client,
    emulator: RunningEmulator,
    mongo_uri: str,
    *,
    appname: str | None = None,
    **overrides: Any,
) -> AsyncIterator[Fleet]:
    """The project's two workers (build_workers) on a fresh task queue and database,
    like the integration `fleet_factory` but for any Temporal, MongoDB and emulator.

    `appname` names the MongoDB client, so failpoints can be scoped to it alone.
    """
    values: dict[str, Any] = {
        "vultr_api_key": TEST_API_KEY,
        "vultr_api_url": emulator.api_url,
        "mongo_uri": mongo_uri,
        "mongo_db": unique("faults").replace("-", "_"),
        "temporal_task_queue": unique("faults"),
        "vultr_requests_per_second": 30,
        **overrides,
    }
    settings: Settings = load_settings(**values)
    async with AsyncExitStack() as stack:
        # Short server selection: an activity blocked on a stopped database fails within
        # its start-to-close timeout and is retried, as in production.
        mongo: AsyncMongoClient[Any] = AsyncMongoClient(
            mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5_000, appname=appname
        )
        stack.push_async_callback(mongo.close)
        db = mongo[settings.mongo_db]
        store = LeaseStore(db)
        await store.ensure_indexes()
        await ensure_read_model_indexes(db)
        providers = await stack.enter_async_context(open_providers(settings))
        for w in build_workers(client, settings, providers=providers, db=db, store=store):
            await stack.enter_async_context(w)
        yield Fleet(client, settings, emulator, db)


@dataclass(frozen=True)
class Recovery:
    activity: str
    attempt: int
    failure: str


async def chain_events(client: Client, handle: WorkflowHandle[Any, Any]) -> AsyncIterator[Any]:
    """The history events of every run of the workflow, first to last: a server may
    continue as new at any time (event ids restart with each run's STARTED event)."""
    run_id: str | None = handle.first_execution_run_id or handle.run_id
    while run_id:
        following = None
        async for event in client.get_workflow_handle(
            handle.id, run_id=run_id
        ).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                attrs = event.workflow_execution_continued_as_new_event_attributes
                following = attrs.new_execution_run_id
            yield event
        run_id = following


async def recovered_activities(client: Client, handle: WorkflowHandle[Any, Any]) -> list[Recovery]:
    """Activities whose final attempt followed a failed one, with the last failure: a
    timeout there is an attempt lost with a killed worker. Over every run."""
    scheduled: dict[int, str] = {}
    found: list[Recovery] = []
    async for event in chain_events(client, handle):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            scheduled = {}
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if started.attempt > 1:
                last = started.last_failure
                kind = "timeout" if last.HasField("timeout_failure_info") else last.message
                activity = scheduled[started.scheduled_event_id]
                found.append(Recovery(activity, started.attempt, kind))
    return found


def count_by(items: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(items).items()))


async def explain_unfinished(handles: Iterable[WorkflowHandle[Any, Any]]) -> str:
    """For a failure message: each running workflow's pending activities and last errors."""
    lines = []
    for handle in handles:
        desc = await handle.describe()
        if desc.status is not None and desc.status.name != "RUNNING":
            continue
        pending = [
            f"{p.activity_type.name} attempt {p.attempt}: {p.last_failure.message[:160]}"
            for p in desc.raw_description.pending_activities
        ]
        lines.append(f"{handle.id}: {pending or 'no pending activity'}")
    return "\n".join(lines) or "none unfinished"


def explain_extra_hours(verdict: LedgerVerdict, requests: list[dict[str, Any]]) -> str:
    """Each over-billed server's life and its DELETE attempts (seconds after creation,
    status), from the emulator's ledger and request log."""
    lines = []
    for label in verdict.extra_hours:
        for row in verdict.by_label[label]:
            created = _at(row["created_at"])
            deleted = _at(row["deleted_at"])
            assert created is not None
            lived = f"{(deleted - created).total_seconds():.1f}s" if deleted else "never deleted"
            path = f"/v2/instances/{row['instance_id']}"
            attempts = [
                f"{r['time'] - created.timestamp():.1f}s:{r['status']}"
                for r in requests
                if r["method"] == "DELETE" and r["path"] == path
            ]
            lines.append(
                f"{label} {row['instance_id']}: lived {lived}, units {row['units']}, "
                f"DELETEs {attempts}"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class ActivitySpan:
    activity: str
    scheduled: datetime
    closed: datetime

    @property
    def seconds(self) -> float:
        return (self.closed - self.scheduled).total_seconds()


async def activity_spans(client: Client, handle: WorkflowHandle[Any, Any]) -> list[ActivitySpan]:
    """Each activity of the workflow from scheduling to its last attempt's end, in
    order, over every run."""
    scheduled: dict[int, tuple[str, datetime]] = {}
    spans: list[ActivitySpan] = []
    closing = {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    }
    async for event in chain_events(client, handle):
        at = event.event_time.ToDatetime(tzinfo=UTC)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            scheduled = {}
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, at)
        elif event.event_type in closing:
            attrs = getattr(event, closing[event.event_type])
            name, when = scheduled[attrs.scheduled_event_id]
            spans.append(ActivitySpan(name, when, at))
    return spans
