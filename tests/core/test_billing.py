"""Billing arithmetic, property-based where a property says it best."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core import billing

HOUR = timedelta(hours=1)
MARGIN = timedelta(seconds=60)
starts = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
offsets = st.floats(min_value=0, max_value=72 * 3600, allow_nan=False)
periods = st.integers(min_value=10, max_value=7200).map(lambda s: timedelta(seconds=s))


@given(starts, offsets, periods)
def test_next_boundary_is_the_first_multiple_strictly_after_now(start, offset, period):
    now = start + timedelta(seconds=offset)
    boundary = billing.next_boundary(start, now, period)
    assert boundary > now
    assert boundary - period <= now
    periods_in = (boundary - start) / period
    assert periods_in == round(periods_in) and periods_in >= 1


def test_at_an_exact_multiple_the_next_period_is_already_paid():
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert billing.next_boundary(start, start + HOUR, HOUR) == start + 2 * HOUR
    assert billing.next_boundary(start, start, HOUR) == start + HOUR


@given(starts, offsets)
def test_deadline_is_margin_before_a_boundary_and_never_in_the_past(start, offset):
    now = start + timedelta(seconds=offset)
    deadline = billing.terminate_deadline(start, now, HOUR, MARGIN)
    assert deadline > now
    assert (deadline + MARGIN - start) % HOUR == timedelta(0)
    assert deadline - now <= HOUR


def test_a_deadline_already_passed_moves_to_the_next_hour():
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    inside_margin = start + HOUR - timedelta(seconds=30)
    assert (
        billing.terminate_deadline(start, inside_margin, HOUR, MARGIN) == start + 2 * HOUR - MARGIN
    )
    before = start + timedelta(minutes=10)
    assert billing.terminate_deadline(start, before, HOUR, MARGIN) == start + HOUR - MARGIN


def test_margin_must_be_smaller_than_the_period():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for margin in (HOUR, timedelta(seconds=-1)):
        try:
            billing.terminate_deadline(start, start, HOUR, margin)
        except ValueError as exc:
            assert "margin" in str(exc)
        else:
            raise AssertionError(f"margin {margin} accepted")


@given(starts, st.floats(min_value=0, max_value=20 * 24 * 3600, allow_nan=False))
def test_billed_units_are_whole_periods_started_within_one_month(start, lived):
    start = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)  # no month crossing
    end = start + timedelta(seconds=lived)
    expected = max(1, math.ceil(lived / 3600))
    assert billing.billed_units(start, end, HOUR) == expected


def test_the_monthly_cap_limits_each_calendar_month():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = datetime(2026, 4, 1, tzinfo=UTC)  # 744 hours in March
    assert billing.billed_units(start, end, HOUR) == 672
    assert (
        billing.billed_units(start, end, HOUR, cap=billing.month_cap("vcg-a16-2c-8g-2vram")) == 730
    )


def test_hours_across_a_month_boundary_count_in_the_month_they_start():
    start = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    end = datetime(2026, 4, 1, 1, 10, tzinfo=UTC)
    # periods start at 23:30 (March) and 00:30 (April); the second ends after 01:10
    assert billing.billed_units(start, end, HOUR) == 2
    whole_april = datetime(2026, 5, 1, tzinfo=UTC)
    assert billing.billed_units(start, whole_april, HOUR) == 1 + 672


@given(starts, st.floats(min_value=1, max_value=100 * 24 * 3600, allow_nan=False))
def test_billed_units_match_a_brute_force_count(start, lived):
    end = start + timedelta(seconds=lived)
    per_month: dict[tuple[int, int], int] = {}
    t = start
    while t < end or t == start:
        key = (t.year, t.month)
        per_month[key] = per_month.get(key, 0) + 1
        t += HOUR
    expected = sum(min(672, n) for n in per_month.values())
    assert billing.billed_units(start, end, HOUR) == expected


def test_cost_is_monthly_price_over_the_cap():
    assert billing.cost(672, 5.0, "vc2-1c-1gb") == 5.0
    assert math.isclose(billing.cost(1, 6.72, "vc2-1c-1gb"), 0.01)
    assert math.isclose(billing.cost(730, 90.0, "vcg-a16-2c-8g-2vram"), 90.0)


def test_idle_at_deadline_judges_by_when_the_last_task_ended():
    deadline = datetime(2026, 1, 1, 0, 59, tzinfo=UTC)
    assert billing.idle_at_deadline(False, None, deadline)  # never used
    assert billing.idle_at_deadline(False, deadline - MARGIN, deadline)
    assert billing.idle_at_deadline(False, deadline, deadline)
    # Busy at the deadline, idle only when the check ran late: the hour is paid.
    assert not billing.idle_at_deadline(False, deadline + timedelta(seconds=20), deadline)
    assert not billing.idle_at_deadline(True, deadline - MARGIN, deadline)
