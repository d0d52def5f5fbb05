"""Deadline and charge arithmetic from a BillingModel, for every kind of model: hourly
from creation, hourly on clock hours, per second with a minimum."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import billing
from providers.base import BillingModel

HOURLY = BillingModel.hourly(monthly_cap_hours=672)
CLOCK_HOURS = BillingModel(period_seconds=3600, anchor="clock_hour")
PER_SECOND = BillingModel(period_seconds=1, minimum_seconds=60, minimum_charge=0.01)
MODELS = {"hourly": HOURLY, "clock-hours": CLOCK_HOURS, "per-second": PER_SECOND}
MARGIN = timedelta(seconds=60)
PRICE = 0.5  # per hour

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
lifetimes = st.floats(min_value=0, max_value=40 * 24 * 3600, allow_nan=False)
models = st.sampled_from(list(MODELS.values()))


@given(models, instants, lifetimes)
def test_the_deadline_is_never_in_the_past(model, created, offset):
    now = created + timedelta(seconds=offset)
    assert billing.deadline_for(model, created, now, MARGIN) >= now


@given(st.sampled_from([HOURLY, CLOCK_HOURS]), instants, lifetimes)
def test_a_periodic_deadline_is_the_margin_before_a_boundary_of_its_anchor(model, created, offset):
    now = created + timedelta(seconds=offset)
    deadline = billing.deadline_for(model, created, now, MARGIN)
    boundary = deadline + MARGIN
    assert deadline > now and deadline - now <= timedelta(hours=1)
    anchor = billing.period_anchor(model, created)
    assert (boundary - anchor) % timedelta(hours=1) == timedelta(0)
    assert boundary > created


@given(instants)
def test_clock_hour_boundaries_fall_on_the_hour(created):
    boundary = billing.deadline_for(CLOCK_HOURS, created, created, MARGIN) + MARGIN
    assert (boundary.minute, boundary.second, boundary.microsecond) == (0, 0, 0)


def test_a_server_created_at_10_50_on_clock_hours_pays_two_hours_by_11_10():
    created = datetime(2026, 3, 2, 10, 50, tzinfo=UTC)
    end = created + timedelta(minutes=20)
    assert billing.charge_for(CLOCK_HOURS, created, end, PRICE) == 2 * PRICE
    assert billing.charge_for(HOURLY, created, end, PRICE) == PRICE


@given(instants, lifetimes)
def test_a_per_second_deadline_is_now_once_the_minimum_is_used(created, offset):
    now = created + timedelta(seconds=offset)
    deadline = billing.deadline_for(PER_SECOND, created, now, MARGIN)
    assert deadline == max(now, created + timedelta(seconds=60))
    # Deleting at the deadline costs no more than deleting right now would.
    assert billing.charge_for(PER_SECOND, created, deadline, PRICE) == pytest.approx(
        billing.charge_for(PER_SECOND, created, now, PRICE)
    )


@given(models, instants, lifetimes, lifetimes)
def test_the_charge_never_falls_as_a_server_lives_longer(model, created, a, b):
    short, long_ = sorted((a, b))
    first = billing.charge_for(model, created, created + timedelta(seconds=short), PRICE)
    later = billing.charge_for(model, created, created + timedelta(seconds=long_), PRICE)
    assert later >= first - 1e-9
    assert first >= model.minimum_charge


@given(instants, st.floats(min_value=0, max_value=600 * 3600, allow_nan=False))
def test_hourly_charges_every_started_hour(created, lived):
    # Within one calendar month, so the cap (672 h) cannot bind.
    created = created.replace(day=1, hour=0)
    charge = billing.charge_for(HOURLY, created, created + timedelta(seconds=lived), PRICE)
    assert charge == pytest.approx(max(1, math.ceil(lived / 3600)) * PRICE)


@given(instants, st.floats(min_value=0, max_value=600 * 3600, allow_nan=False))
def test_per_second_charges_seconds_lived_with_a_minimum(created, lived):
    created = created.replace(day=1, hour=0)
    charge = billing.charge_for(PER_SECOND, created, created + timedelta(seconds=lived), PRICE)
    expected = max(max(lived, 60) * PRICE / 3600, 0.01)
    assert charge == pytest.approx(expected)


@pytest.mark.parametrize("name", ["hourly", "per-second"])
def test_a_whole_month_costs_at_most_its_cap(name):
    model = MODELS[name].model_copy(update={"monthly_cap_hours": 672})
    created = datetime(2026, 3, 1, tzinfo=UTC)
    end = datetime(2026, 4, 1, tzinfo=UTC)  # 744 hours
    assert billing.charge_for(model, created, end, PRICE) == pytest.approx(672 * PRICE)


def test_a_periodic_model_on_clock_hours_must_divide_the_hour():
    with pytest.raises(ValueError, match="must divide 3600"):
        BillingModel(period_seconds=7000, anchor="clock_hour")


def test_only_short_periods_count_as_per_second():
    assert PER_SECOND.per_second and not HOURLY.per_second and not CLOCK_HOURS.per_second


def test_an_hour_shortened_for_a_demo_is_still_hourly():
    assert not BillingModel.hourly(period_seconds=20).per_second


windows = st.integers(min_value=1, max_value=3600).map(lambda s: timedelta(seconds=s))
gaps = st.floats(min_value=0, max_value=7200, allow_nan=False).map(lambda s: timedelta(seconds=s))


@given(instants, gaps, windows)
def test_an_idle_server_goes_one_window_after_it_went_idle(idle_since, waited, window):
    now = idle_since + waited
    assert billing.idle_window_deadline(False, idle_since, now, window) == idle_since + window


@given(instants, gaps, windows)
def test_a_busy_server_has_no_deadline_within_the_window(idle_since, waited, window):
    now = idle_since + waited
    # Busy: the deadline stays a full window ahead of now, however long it has run.
    assert billing.idle_window_deadline(True, None, now, window) == now + window
    assert billing.idle_window_deadline(True, idle_since, now, window) == now + window


@given(instants, gaps, gaps, windows)
def test_going_idle_again_restarts_the_window(first_idle, busy_for, idle_for, window):
    again = first_idle + busy_for + timedelta(seconds=1)
    now = again + idle_for
    deadline = billing.idle_window_deadline(False, again, now, window)
    assert deadline == again + window > first_idle + window


def test_an_idle_window_must_be_positive():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="must be positive"):
        billing.idle_window_deadline(False, now, now, timedelta(0))
