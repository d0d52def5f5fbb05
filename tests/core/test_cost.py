"""Cost report arithmetic on hand-made histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.cost import busy_intervals, cost_report, idle_timeout_units
from core.lifecycle import ServerState
from core.models import ServerStatus, TimelineEntry
from providers.base import BillingModel

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = ServerState


def status(name: str, entries: list[tuple[ServerState, timedelta]], deleted: timedelta | None):
    return ServerStatus(
        name=name,
        workflow_id=f"server-{name}",
        state=S.TERMINATED if deleted else S.IDLE,
        region="ewr",
        plan="vc2-1c-1gb",
        billing_start=T0,
        deleted_at=T0 + deleted if deleted else None,
        monthly_cost=6.72,
        timeline=[TimelineEntry(state=s, at=T0 + d) for s, d in entries],
    )


def test_busy_intervals_follow_the_timeline():
    st = status(
        "a",
        [
            (S.READY, H * 0),
            (S.EXECUTING, H * 0.1),
            (S.IDLE, H * 0.5),
            (S.EXECUTING, H * 0.7),
            (S.IDLE, H * 0.8),
        ],
        H * 0.98,
    )
    assert busy_intervals(st, T0 + H) == [
        (T0 + H * 0.1, T0 + H * 0.5),
        (T0 + H * 0.7, T0 + H * 0.8),
    ]


def test_report_totals_billed_busy_and_paid_idle_hours():
    a = status("a", [(S.READY, H * 0), (S.EXECUTING, H * 0), (S.IDLE, H * 0.5)], H * 0.98)
    b = status("b", [(S.READY, H * 0), (S.EXECUTING, H * 0.1), (S.IDLE, H * 1.5)], H * 1.98)
    report = cost_report([a, b], H, T0 + 3 * H, timedelta(minutes=10))
    assert [line.billed_hours for line in report.servers] == [1, 2]
    assert report.billed_hours == 3
    assert abs(report.cost - 0.03) < 1e-12
    assert abs(report.busy_hours - 1.9) < 1e-9
    assert abs(report.paid_idle_hours - 1.1) < 1e-9


def test_idle_timeout_policy_splits_sessions_further_apart_than_the_timeout():
    ten = timedelta(minutes=10)
    # Two jobs 30 min apart: an idle timeout of 10 min deletes in between and pays twice.
    intervals = [
        (T0, T0 + timedelta(minutes=5)),
        (T0 + timedelta(minutes=45), T0 + timedelta(minutes=50)),
    ]
    assert idle_timeout_units(intervals, H, ten, "vc2-1c-1gb") == 2
    # With a 60 min timeout they share one server: 50 + 60 min = 2 periods started.
    assert idle_timeout_units(intervals, H, timedelta(minutes=60), "vc2-1c-1gb") == 2
    close = [
        (T0, T0 + timedelta(minutes=5)),
        (T0 + timedelta(minutes=12), T0 + timedelta(minutes=20)),
    ]
    assert idle_timeout_units(close, H, ten, "vc2-1c-1gb") == 1


def test_a_server_never_created_costs_nothing():
    never = ServerStatus(
        name="x", workflow_id="server-x", state=S.ERROR, region="ewr", plan="vc2-1c-1gb"
    )
    assert cost_report([never], H, T0).servers == []


def test_each_server_is_priced_by_the_period_it_was_billed_by():
    short = status("short", [(S.READY, H * 0)], H * 0.5).model_copy(
        update={"billing_period_seconds": 120}
    )
    legacy = status("legacy", [(S.READY, H * 0)], H * 0.5)  # recorded without a period
    report = cost_report([short, legacy], H, T0 + 3 * H)
    by_name = {line.name: line for line in report.servers}
    assert by_name["short"].billed_hours == 15  # 30 min of 2 min periods
    assert by_name["short"].period_seconds == 120
    assert by_name["legacy"].billed_hours == 1  # the report's default period
    assert by_name["legacy"].period_seconds == 3600
    assert report.billed_hours == 16


PER_SECOND = BillingModel(period_seconds=1, minimum_seconds=60, minimum_charge=0.01)
HOURLY_PRICE = 3.6  # $0.001 a second


def per_second_status(entries, deleted: timedelta | None):
    return status("do", entries, deleted).model_copy(
        update={"billing_model": PER_SECOND, "hourly_cost": HOURLY_PRICE, "plan": "s-1vcpu-1gb"}
    )


def test_a_per_second_server_is_billed_the_seconds_it_lived_not_hours():
    sec = timedelta(seconds=1)
    st = per_second_status(
        [(S.READY, sec * 0), (S.EXECUTING, sec * 10), (S.IDLE, sec * 110)], sec * 410
    )
    (line,) = cost_report([st], H, T0 + H).servers
    assert line.billed_seconds == 410 and line.billed_hours == 0
    # The hourly idle-timeout comparison does not apply to it, nor count in the totals.
    assert line.idle_timeout_hours == 0 and line.idle_timeout_cost == 0
    assert abs(line.cost - 0.41) < 1e-9
    # Deleted the moment its one job ended: the 100 s of the job; kept: the whole hour.
    assert abs(line.delete_at_once_cost - 0.1) < 1e-9
    assert abs(line.keep_running_cost - 3.6) < 1e-9


def test_a_short_per_second_life_pays_the_minimum_and_each_job_alone_pays_it_too():
    sec = timedelta(seconds=1)
    st = per_second_status(
        [
            (S.READY, sec * 0),
            (S.EXECUTING, sec * 1),
            (S.IDLE, sec * 6),
            (S.EXECUTING, sec * 8),
            (S.IDLE, sec * 13),
        ],
        sec * 20,
    )
    (line,) = cost_report([st], H, T0 + H).servers
    assert line.billed_seconds == 60 and abs(line.cost - 0.06) < 1e-9
    # Two servers for two 5 s jobs: the 60 s minimum twice, more than the one it used.
    assert abs(line.delete_at_once_cost - 0.12) < 1e-9
    assert line.delete_at_once_cost > line.cost


def test_hourly_servers_have_no_per_second_comparison():
    st = status("a", [(S.READY, H * 0)], H * 0.5)
    (line,) = cost_report([st], H, T0 + H).servers
    assert line.billed_seconds is None and line.delete_at_once_cost is None
