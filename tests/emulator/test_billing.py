"""Billing math: one unit per period started, by calendar month, capped per month."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.core import billing
from emulator.vultr.catalog import GPU_MONTHLY_CAP_UNITS

JAN_31_2330 = datetime(2024, 1, 31, 23, 30, tzinfo=UTC)


def oracle_month_units(
    created: datetime, end: datetime, period_s: int, cap: int
) -> dict[tuple[int, int], int]:
    """Enumerate every period start and bucket it by calendar month: slow but obvious."""
    starts = [created]
    step = timedelta(seconds=period_s)
    while created + len(starts) * step < end:
        starts.append(created + len(starts) * step)
    per_month = Counter((s.year, s.month) for s in starts)
    return {month: min(count, cap) for month, count in per_month.items()}


moments = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
periods = st.sampled_from([1, 7, 60, 600, 3600, 86_400, 5 * 86_400])


@st.composite
def spans(draw: st.DrawFn) -> tuple[datetime, datetime, int]:
    """(created, end, period) with at most ~400 periods, so the oracle stays fast."""
    created = draw(moments)
    period = draw(periods)
    whole = draw(st.integers(min_value=0, max_value=400))
    # Exactly on a boundary, a microsecond either side of it, or anywhere in between.
    offset = draw(st.one_of(st.sampled_from([0, 1, -1]), st.integers(0, period * 10**6 - 1)))
    micros = whole * period * 10**6 + offset
    return created, created + timedelta(microseconds=micros), period


@given(spans(), st.integers(min_value=1, max_value=40))
@settings(max_examples=300, deadline=None)
def test_month_units_match_an_enumeration_of_period_starts(
    span: tuple[datetime, datetime, int], cap: int
) -> None:
    created, end, period = span
    charges = billing.month_charges(created, end, period, cap)
    got = {(c.month.year, c.month.month): c.units for c in charges}
    assert got == oracle_month_units(created, end, period, cap)


@given(spans())
@settings(max_examples=200, deadline=None)
def test_uncapped_units_are_the_periods_started_and_at_least_one(
    span: tuple[datetime, datetime, int],
) -> None:
    created, end, period = span
    elapsed = (end - created).total_seconds()
    expected = max(1, -(-round(elapsed * 10**6) // (period * 10**6)))
    assert billing.total_units(created, end, period, 10**9) == expected


@given(spans(), st.integers(min_value=1, max_value=30))
@settings(max_examples=200, deadline=None)
def test_no_month_exceeds_the_cap(span: tuple[datetime, datetime, int], cap: int) -> None:
    created, end, period = span
    assert all(c.units <= cap for c in billing.month_charges(created, end, period, cap))


@given(spans(), st.integers(min_value=0, max_value=10**7))
@settings(max_examples=200, deadline=None)
def test_units_never_decrease_as_time_passes(
    span: tuple[datetime, datetime, int], later_s: int
) -> None:
    created, end, period = span
    earlier = billing.total_units(created, end, period, 672)
    assert billing.total_units(created, end + timedelta(seconds=later_s), period, 672) >= earlier


@given(spans())
@settings(max_examples=200, deadline=None)
def test_month_lines_are_ordered_and_stay_inside_their_month(
    span: tuple[datetime, datetime, int],
) -> None:
    created, end, period = span
    charges = billing.month_charges(created, end, period, 672)
    assert charges[0].start == created
    for charge in charges:
        assert charge.month <= charge.start <= charge.end
        assert charge.end <= billing.next_month_start(charge.month)
    months = [c.month for c in charges]
    assert months == sorted(set(months))


def test_a_server_deleted_at_once_is_billed_one_period() -> None:
    created = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    assert billing.total_units(created, created, 3600, 672) == 1


def test_deletion_exactly_on_a_boundary_does_not_start_the_next_period() -> None:
    created = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    assert billing.total_units(created, created + timedelta(hours=1), 3600, 672) == 1
    one_more_second = created + timedelta(hours=1, seconds=1)
    assert billing.total_units(created, one_more_second, 3600, 672) == 2


def test_periods_are_billed_to_the_month_they_start_in() -> None:
    end = JAN_31_2330 + timedelta(hours=2)  # starts at 23:30 (Jan) and 00:30 (Feb)
    charges = billing.month_charges(JAN_31_2330, end, 3600, 672)
    assert [(c.month.month, c.units) for c in charges] == [(1, 1), (2, 1)]
    assert charges[0].end == datetime(2024, 2, 1, tzinfo=UTC)
    assert charges[1].start == datetime(2024, 2, 1, tzinfo=UTC)


def test_a_full_31_day_month_is_capped_at_672_hours() -> None:
    january = datetime(2024, 1, 1, tzinfo=UTC)
    assert billing.total_units(january, datetime(2024, 2, 1, tzinfo=UTC), 3600, 672) == 672


def test_gpu_plans_are_capped_at_730_hours() -> None:
    january = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2024, 2, 1, tzinfo=UTC)
    assert billing.total_units(january, end, 3600, GPU_MONTHLY_CAP_UNITS) == 730


def test_the_cap_applies_again_in_each_new_month() -> None:
    january = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2024, 2, 15, tzinfo=UTC)
    charges = billing.month_charges(january, end, 3600, 672)
    assert [c.units for c in charges] == [672, 14 * 24]


@pytest.mark.parametrize("monthly, cap", [(5, 672), (43, 730), (192, 672)])
def test_a_capped_month_costs_exactly_the_monthly_price(monthly: int, cap: int) -> None:
    assert billing.charge_total(cap, monthly, cap) == Fraction(monthly)


def test_the_hourly_price_is_the_monthly_price_over_672() -> None:
    assert billing.unit_price(5, 672) == Fraction(5, 672)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        billing.total_units(datetime(2024, 1, 1), datetime(2024, 1, 2), 3600, 672)
