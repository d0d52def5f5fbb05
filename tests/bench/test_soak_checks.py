"""bench/soak_checks.py on hand-made evidence: which periods a server intends, and that
each invariant flags the case it is about (period 100 s, margin 20 s: deadlines at
80, 180, 280 s after the billing start)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import ApiRequest
from bench.soak_checks import Evidence, intended_units, judge
from bench.soak_traffic import TaskRecord, TerminateRecord
from core.lifecycle import ServerState as S
from core.models import ServerStatus, TimelineEntry

START = datetime(2026, 1, 1, tzinfo=UTC)
T0 = START.timestamp()
DELETE = "DELETE /v2/instances/{instance-id}"


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def status(name: str, *entries: tuple[S, float], provider: str = "vultr") -> ServerStatus:
    return ServerStatus(
        name=name,
        workflow_id=f"server-{name}",
        state=S.TERMINATED,
        instance_id=f"i-{name}",
        provider=provider,
        region="ewr",
        plan="vc2-1c-1gb",
        billing_start=START,
        timeline=[TimelineEntry(state=s, at=at(t)) for s, t in entries],
    )


def row(name: str, units: int, deleted: float | None) -> dict[str, Any]:
    return {
        "instance_id": f"i-{name}",
        "label": f"server-{name}",
        "created_at": START.isoformat(),
        "deleted_at": at(deleted).isoformat() if deleted is not None else None,
        "units": units,
    }


def evidence(
    statuses: list[ServerStatus],
    rows: list[dict[str, Any]],
    requests: list[ApiRequest] = (),  # type: ignore[assignment]
    tasks: list[TaskRecord] = (),  # type: ignore[assignment]
    terminations: list[TerminateRecord] = (),  # type: ignore[assignment]
    seeded: set[str] = frozenset(),  # type: ignore[assignment]
) -> Evidence:
    return Evidence(
        period=100,
        margin=20,
        idle_window=30,
        reconcile_interval=30,
        max_servers={"vultr": 2},
        ledgers={"vultr": rows},
        requests={"vultr": list(requests)},
        seeded={"vultr": set(seeded)},
        statuses={s.name: s for s in statuses},
        histories={},
        unfinished={},
        tasks=list(tasks),
        terminations=list(terminations),
        quota_samples=[],
    )


def test_an_unused_server_intends_its_first_period() -> None:
    s = status("a", (S.READY, 5), (S.TERMINATING, 80))
    assert intended_units(evidence([s], []), s, T0) == (1, 1)


def test_busy_across_a_deadline_intends_the_next_period_too() -> None:
    s = status("b", (S.READY, 5), (S.EXECUTING, 50), (S.IDLE, 120), (S.TERMINATING, 180))
    assert intended_units(evidence([s], []), s, T0) == (2, 2)


def test_idle_just_before_a_deadline_allows_one_more() -> None:
    s = status("c", (S.READY, 5), (S.EXECUTING, 50), (S.IDLE, 79.5))
    assert intended_units(evidence([s], []), s, T0) == (1, 2)


def test_terminate_now_intends_the_period_of_the_request() -> None:
    s = status("d", (S.READY, 5), (S.EXECUTING, 50), (S.IDLE, 190))
    now = TerminateRecord("d", T0 + 150, immediately=True)
    assert intended_units(evidence([s], [], terminations=[now]), s, T0) == (2, 2)
    near = TerminateRecord("d", T0 + 195, immediately=True)
    assert intended_units(evidence([s], [], terminations=[near]), s, T0) == (2, 3)


def test_an_extra_period_and_a_leftover_are_flagged() -> None:
    late = status("e", (S.READY, 5), (S.TERMINATING, 80))
    left = status("f", (S.READY, 5))
    verdict = judge(evidence([late, left], [row("e", 2, 101), row("f", 1, None)]))
    assert verdict.measured["billed periods beyond the intended ones"] == 1
    assert verdict.measured["instances left at any provider"] == 1
    assert set(verdict.explanations) == {"e", "f"}
    assert "timeline" in verdict.explanations["e"]


def test_a_delete_during_a_task_and_a_touched_lookalike_are_flagged() -> None:
    s = status("g", (S.READY, 5), (S.EXECUTING, 10), (S.TERMINATING, 40))
    task = TaskRecord("g", "job-1", "signal", T0 + 10, T0 + 60)
    requests = [
        ApiRequest("DELETE", "/v2/instances/i-g", DELETE, 204, T0 + 41, False),
        ApiRequest("DELETE", "/v2/instances/theirs", DELETE, 204, T0 + 50, False),
    ]
    verdict = judge(
        evidence([s], [row("g", 1, 41)], requests=requests, tasks=[task], seeded={"theirs"})
    )
    assert verdict.measured["servers deleted while a task ran"] == 1
    assert verdict.measured["unmanaged instances touched"] == 1
    assert not verdict.ok


def test_a_clean_run_passes() -> None:
    s = status("h", (S.READY, 5), (S.EXECUTING, 10), (S.IDLE, 40), (S.TERMINATING, 80))
    task = TaskRecord("h", "job-1", "signal", T0 + 10, T0 + 40)
    requests = [ApiRequest("DELETE", "/v2/instances/i-h", DELETE, 204, T0 + 81, False)]
    verdict = judge(evidence([s], [row("h", 1, 81)], requests=requests, tasks=[task]))
    assert verdict.ok, verdict.violations
