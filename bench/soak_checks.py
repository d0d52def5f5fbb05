"""The soak's invariants, judged from the emulators' ledgers and request logs, the read
model (each server's last recorded ServerStatus) and the workflow histories.

Intended periods (Vultr and Hetzner, billed per started period from the ledger's
`created_at`, s; period P, margin M, deadline k at s + k*P - M):

- a server is *needed* at: its READY moment (a server nobody uses still runs to its first
  deadline), the end of each EXECUTING spell (the IDLE, or TERMINATING, entry that follows
  it in the timeline), and every deadline at which its pool kept it (a `keep_warm`
  activity that answered true, at its completion time);
- idle at a deadline, it goes: the intended periods are those up to the first deadline at
  or after its last need, `floor((last_need - s + M) / P) + 1` (harness
  first_deadline_units); one more is allowed when that need came within 1 s of the
  deadline (the workflow may rightly see the deadline as passed);
- an explicit terminate-now sent at r intends the period r lies in, if that is fewer; one
  more is allowed when r came within M of its boundary (M is what a delete is given);
- billed periods beyond the intended ones = ledger units - intended, counted when above
  the allowance.

DigitalOcean bills per second: a server goes an idle window W after its last need (or at
a terminate-now), so a delete later than that moment plus the bound M is the violation;
the measured value is the worst lateness.

A task "ran" from the moment the soak sent mark_busy (a claim: the claim returned) until
it sent mark_idle (the release); a mark_busy the workflow ignored (in its `rejected`
record) never ran, and a terminate-now sent before a DELETE excuses it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench.harness import ApiRequest, compact_history, first_deadline_units, parse_time
from bench.soak_traffic import TaskRecord, TerminateRecord
from core.models import ServerStatus

__all__ = ["Evidence", "Verdict", "judge", "INVARIANTS"]

INVARIANTS = (
    "instances left at any provider",
    "duplicate instances not deleted within one reconciliation",
    "servers deleted while a task ran",
    "billed periods beyond the intended ones",
    "DigitalOcean deletes later than idle window + bound",
    "unmanaged instances touched",
    "quota exceeded (sampled)",
    "workflows stuck",
)
PER_SECOND = frozenset({"digitalocean"})
COLLECTIONS = {"instances", "servers", "droplets"}
EXCERPT_EVENTS = 30


@dataclass
class Evidence:
    period: int
    margin: int
    idle_window: int
    reconcile_interval: int
    max_servers: Mapping[str, int]
    ledgers: Mapping[str, list[dict[str, Any]]]
    requests: Mapping[str, list[ApiRequest]]
    seeded: Mapping[str, set[str]]
    statuses: Mapping[str, ServerStatus]  # by server name, from the read model
    histories: Mapping[str, Sequence[HistoryEvent]]  # by server name
    unfinished: Mapping[str, float]  # workflow id -> seconds since its last event
    tasks: Sequence[TaskRecord]
    terminations: Sequence[TerminateRecord]
    quota_samples: Sequence[tuple[float, str, int]]  # (time, provider, live instances)


@dataclass
class Verdict:
    measured: dict[str, Any] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)  # invariant -> servers
    explanations: dict[str, str] = field(default_factory=dict)  # server -> text

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def flag(self, invariant: str, server: str, note: str) -> None:
        self.violations.setdefault(invariant, []).append(f"{server}: {note}")


def row_id(row: Mapping[str, Any]) -> str:
    return str(row.get("instance_id", row.get("server_id")))


def row_name(row: Mapping[str, Any]) -> str:
    return str(row.get("label", row.get("name")))


def path_id(request: ApiRequest) -> str | None:
    parts = request.path.split("/")
    if len(parts) >= 4 and parts[2] in COLLECTIONS and parts[3]:
        return parts[3]
    return None


def judge(ev: Evidence) -> Verdict:
    verdict = Verdict()
    managed = {
        p: [r for r in rows if row_id(r) not in ev.seeded.get(p, set())]
        for p, rows in ev.ledgers.items()
    }
    _leftovers(ev, managed, verdict)
    _duplicates(ev, managed, verdict)
    _deleted_while_busy(ev, ev.statuses, verdict)
    _extra_periods(ev, managed, verdict)
    _unmanaged(ev, verdict)
    _quota(ev, managed, verdict)
    stuck = sorted(ev.unfinished)
    verdict.measured["workflows stuck"] = len(stuck)
    for wf in stuck:
        verdict.flag("workflows stuck", wf, f"running, no event for {ev.unfinished[wf]:.0f} s")
    flagged = {v.split(":", 1)[0] for notes in verdict.violations.values() for v in notes}
    for name in sorted(flagged):
        verdict.explanations[name] = explain(ev, name)
    return verdict


def _leftovers(ev: Evidence, managed: Mapping[str, list[dict[str, Any]]], v: Verdict) -> None:
    left = [(p, r) for p, rows in managed.items() for r in rows if r["deleted_at"] is None]
    v.measured["instances left at any provider"] = len(left)
    for provider, row in left:
        v.flag(
            "instances left at any provider",
            _server_of(row_name(row)),
            f"{provider} {row_id(row)} still live",
        )


def _server_of(label: str) -> str:
    return label.removeprefix("server-")


def _duplicates(ev: Evidence, managed: Mapping[str, list[dict[str, Any]]], v: Verdict) -> None:
    allowed = ev.reconcile_interval + ev.margin
    created = 0
    for provider, rows in managed.items():
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[row_name(row)].append(row)
        for label, group in groups.items():
            if len(group) < 2:
                continue
            status = ev.statuses.get(_server_of(label))
            kept = status.instance_id if status else None
            extras = [r for r in group if row_id(r) != kept] or group[1:]
            for row in extras:
                created += 1
                born, gone = parse_time(row["created_at"]), parse_time(row["deleted_at"])
                if born is None or gone is None or gone - born > allowed:
                    life = "never deleted" if gone is None else f"lived {gone - (born or 0):.0f} s"
                    v.flag(
                        "duplicate instances not deleted within one reconciliation",
                        _server_of(label),
                        f"{provider} duplicate {row_id(row)} {life} (allowed {allowed} s)",
                    )
    v.measured["duplicate instances created"] = created
    v.measured["duplicate instances not deleted within one reconciliation"] = len(
        v.violations.get("duplicate instances not deleted within one reconciliation", [])
    )


def _deletes(ev: Evidence) -> dict[str, list[float]]:
    """Instance id -> arrival times of every DELETE naming it, at any provider."""
    out: dict[str, list[float]] = defaultdict(list)
    for requests in ev.requests.values():
        for r in requests:
            if r.method == "DELETE" and (iid := path_id(r)):
                out[iid].append(r.time)
    return out


def _deleted_while_busy(ev: Evidence, servers: Mapping[str, ServerStatus], v: Verdict) -> None:
    deletes = _deletes(ev)
    immediate: dict[str, float] = {}
    for t in ev.terminations:
        if t.immediately:
            immediate[t.server] = min(immediate.get(t.server, math.inf), t.at)
    bad = 0
    for task in ev.tasks:
        status = servers.get(task.server)
        if status is None or status.instance_id is None:
            continue
        if task.kind == "signal" and any(
            f"mark_busy({task.task_id}) ignored" in r for r in status.rejected
        ):
            continue
        end = task.ended if task.ended is not None else math.inf
        hits = [
            t
            for t in deletes.get(status.instance_id, [])
            if task.started <= t <= end and t < immediate.get(task.server, math.inf)
        ]
        if hits:
            bad += 1
            v.flag(
                "servers deleted while a task ran",
                task.server,
                f"DELETE at {hits[0]:.1f} during {task.kind} {task.task_id} "
                f"[{task.started:.1f}, {end:.1f}]",
            )
    v.measured["servers deleted while a task ran"] = bad


def need_moments(status: ServerStatus, history: Sequence[HistoryEvent]) -> list[float]:
    """READY, the end of every EXECUTING spell, and every pool keep (see module doc)."""
    moments: list[float] = []
    previous = None
    for entry in status.timeline:
        state = str(entry.state)
        at = entry.at.timestamp()
        if state == "READY" and not moments:
            moments.append(at)
        if previous == "EXECUTING" and state != "EXECUTING":
            moments.append(at)
        previous = state
    return moments + pool_keeps(history)


def pool_keeps(history: Sequence[HistoryEvent]) -> list[float]:
    """Completion times of `keep_warm` activities that answered true."""
    keep_ids = {
        e.event_id
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "keep_warm"
    }
    out = []
    for e in history:
        if e.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            continue
        attrs = e.activity_task_completed_event_attributes
        if attrs.scheduled_event_id not in keep_ids:
            continue
        payloads = attrs.result.payloads
        if payloads and payloads[0].data.strip() == b"true":
            out.append(e.event_time.seconds + e.event_time.nanos / 1e9)
    return out


def _first_immediate(ev: Evidence, name: str, after: float) -> float | None:
    times = [t.at for t in ev.terminations if t.server == name and t.immediately and t.at >= after]
    return min(times) if times else None


def intended_units(ev: Evidence, status: ServerStatus, start: float) -> tuple[int, int]:
    """(intended periods, periods allowed) for an hourly server billed from `start`."""
    needs = need_moments(status, ev.histories.get(status.name, []))
    last_need = max(needs, default=start)
    units, ambiguous = first_deadline_units(start, last_need, ev.period, ev.margin)
    allowed = units + int(ambiguous)
    now_at = _first_immediate(ev, status.name, start)
    if now_at is not None:
        k = math.floor((now_at - start) / ev.period) + 1
        near_boundary = start + k * ev.period - now_at < ev.margin
        if k < units:
            units, allowed = k, k + int(near_boundary)
    return units, allowed


def _extra_periods(ev: Evidence, managed: Mapping[str, list[dict[str, Any]]], v: Verdict) -> None:
    extra = 0
    worst_late = 0.0
    for provider, rows in managed.items():
        for row in rows:
            status = ev.statuses.get(_server_of(row_name(row)))
            start = parse_time(row["created_at"])
            if status is None or start is None or status.instance_id != row_id(row):
                continue  # duplicates and unknown rows are judged elsewhere
            if provider in PER_SECOND:
                late = _per_second_lateness(ev, status, row, start)
                worst_late = max(worst_late, late)
                if late > ev.margin:
                    v.flag(
                        "DigitalOcean deletes later than idle window + bound",
                        status.name,
                        f"deleted {late:.0f} s after its idle-window end (bound {ev.margin} s)",
                    )
                continue
            units = int(row["units"])
            intended, allowed = intended_units(ev, status, start)
            if units > allowed:
                extra += units - intended
                v.flag(
                    "billed periods beyond the intended ones",
                    status.name,
                    f"{provider}: billed {units}, intended {intended} (allowed {allowed})",
                )
    v.measured["billed periods beyond the intended ones"] = extra
    v.measured["DigitalOcean deletes later than idle window + bound"] = len(
        v.violations.get("DigitalOcean deletes later than idle window + bound", [])
    )
    v.measured["DigitalOcean worst lateness (s)"] = round(worst_late, 1)


def _per_second_lateness(
    ev: Evidence, status: ServerStatus, row: Mapping[str, Any], start: float
) -> float:
    """Seconds the delete came after the server's end (0 if not later)."""
    gone = parse_time(row["deleted_at"])
    if gone is None:
        return 0.0  # judged as left
    gone += 1  # shown to the whole second
    needs = need_moments(status, ev.histories.get(status.name, []))
    end = max(needs, default=start) + ev.idle_window
    now_at = _first_immediate(ev, status.name, start)
    if now_at is not None:
        end = min(end, now_at)
    return max(0.0, gone - end)


def _unmanaged(ev: Evidence, v: Verdict) -> None:
    adopted = {s.instance_id for s in ev.statuses.values() if s.instance_id}
    touched = 0
    for provider, ids in ev.seeded.items():
        writes = Counter(
            path_id(r) for r in ev.requests.get(provider, []) if r.method != "GET" and path_id(r)
        )
        rows = {row_id(r): r for r in ev.ledgers.get(provider, [])}
        for iid in sorted(ids):
            why = []
            if writes.get(iid):
                why.append(f"{writes[iid]} write request(s)")
            if rows.get(iid, {}).get("deleted_at") is not None:
                why.append("deleted")
            if iid in adopted:
                why.append("adopted into the read model (billed to us)")
            if why:
                touched += 1
                v.flag("unmanaged instances touched", f"{provider}:{iid}", ", ".join(why))
    v.measured["unmanaged instances touched"] = touched


def _quota(ev: Evidence, managed: Mapping[str, list[dict[str, Any]]], v: Verdict) -> None:
    peaks: dict[str, int] = defaultdict(int)
    for _, provider, live in ev.quota_samples:
        peaks[provider] = max(peaks[provider], live)
    over = 0
    for provider, peak in sorted(peaks.items()):
        if peak > ev.max_servers[provider]:
            over += 1
            v.flag(
                "quota exceeded (sampled)",
                f"{provider}",
                f"{peak} live instances sampled, quota {ev.max_servers[provider]}",
            )
    v.measured["quota exceeded (sampled)"] = over
    v.measured["quota peak sampled / quota"] = ", ".join(
        f"{p} {peaks.get(p, 0)}/{ev.max_servers[p]}" for p in sorted(ev.max_servers)
    )
    v.measured["quota peak from ledger / quota"] = ", ".join(
        f"{p} {peak_overlap(rows)}/{ev.max_servers[p]}" for p, rows in sorted(managed.items())
    )


def peak_overlap(rows: Iterable[Mapping[str, Any]]) -> int:
    """Most instances alive at once by the ledger's (whole-second) times."""
    edges = []
    for row in rows:
        born = parse_time(row["created_at"])
        if born is None:
            continue
        gone = parse_time(row["deleted_at"])
        edges += [(born, 1), (gone if gone is not None else math.inf, -1)]
    live = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        live += step
        peak = max(peak, live)
    return peak


def explain(ev: Evidence, name: str) -> str:
    """The server's timeline (seconds after its billing start) and a history excerpt."""
    status = ev.statuses.get(name)
    if status is None:
        return f"{name}: no read-model record"
    origin = status.billing_start.timestamp() if status.billing_start else 0.0
    lines = [
        f"{name} ({status.provider}, instance {status.instance_id}, state {status.state}, "
        f"billing start {status.billing_start}):",
        "  timeline (s after billing start):",
    ]
    lines += [
        f"    {e.state:<12} {e.at.timestamp() - origin:+8.1f}  {e.reason}" for e in status.timeline
    ]
    if status.rejected:
        lines.append(f"  rejected: {status.rejected[-5:]}")
    history = ev.histories.get(name, [])
    lines.append(f"  history, last {EXCERPT_EVENTS} of {len(history)} events:")
    for event_id, kind, at, detail in compact_history(history, origin)[-EXCERPT_EVENTS:]:
        lines.append(f"    {event_id:>4} {at:+8.1f} {kind} {detail}")
    return "\n".join(lines)
