"""Billing-period arithmetic: where the next boundary is, when to delete, what was billed.

Vultr bills every started hour from deploy, at monthly price / 672, capped at 672
hours per calendar month (730 for GPU plans). All functions are pure so the
workflow can call them with `workflow.now()` and tests can check them exhaustively.
The `*_for` functions work from a provider's `BillingModel` (hourly from creation,
hourly on clock hours, or per second with a minimum) on top of the same primitives.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from providers.base import BillingModel

__all__ = [
    "HOURS_PER_MONTH_CAP",
    "GPU_HOURS_PER_MONTH_CAP",
    "billed_periods_for",
    "billed_seconds_for",
    "billed_units",
    "charge_for",
    "cost",
    "deadline_for",
    "hourly_price",
    "idle_at_deadline",
    "idle_window_deadline",
    "month_cap",
    "next_boundary",
    "period_anchor",
    "terminate_deadline",
]

HOURS_PER_MONTH_CAP = 672
GPU_HOURS_PER_MONTH_CAP = 730


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def next_boundary(billing_start: datetime, now: datetime, period: timedelta) -> datetime:
    """The first period boundary strictly after `now` (never the start itself).

    At an exact multiple the next period has already started and is paid, so the
    boundary is the one after it.
    """
    elapsed = max(0.0, _seconds(now - billing_start))
    periods = math.floor(elapsed / _seconds(period)) + 1
    return billing_start + period * periods


def terminate_deadline(
    billing_start: datetime, now: datetime, period: timedelta, margin: timedelta
) -> datetime:
    """When to delete an idle server: `margin` before the next boundary.

    If that moment is already past (too little time left to delete safely), the next
    period will be paid anyway, so the server stays available until the deadline of
    the period after.
    """
    if not timedelta(0) <= margin < period:
        raise ValueError(f"margin {margin} must be in [0, period {period})")
    deadline = next_boundary(billing_start, now, period) - margin
    if deadline <= now:
        deadline += period
    return deadline


def idle_at_deadline(busy: bool, idle_since: datetime | None, deadline: datetime) -> bool:
    """Whether a server was idle *at* its deadline, judged by when its last task ended
    rather than by when the check runs: a task that ended after the deadline (a late
    signal, a worker that was away) means the next period is already paid."""
    return not busy and (idle_since is None or idle_since <= deadline)


def month_cap(plan_id: str) -> int:
    """Monthly cap in billed hours: GPU plans (`vcg-*`) have a longer one."""
    return GPU_HOURS_PER_MONTH_CAP if plan_id.startswith("vcg") else HOURS_PER_MONTH_CAP


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def billed_units(
    billing_start: datetime, end: datetime, period: timedelta, cap: int = HOURS_PER_MONTH_CAP
) -> int:
    """Billing periods started between `billing_start` and `end` (at least one).

    Each period counts in the calendar month in which it starts; each month counts at
    most `cap` of them.
    """
    elapsed = max(0.0, _seconds(end - billing_start))
    started = max(1, math.ceil(elapsed / _seconds(period)))
    per_month: dict[datetime, int] = {}
    # Count period starts per calendar month without walking every period.
    index = 0
    while index < started:
        start = billing_start + period * index
        month = _month_start(start)
        next_month = (month + timedelta(days=32)).replace(day=1)
        # Periods with index in [index, last) start in this month.
        in_month = math.ceil(_seconds(next_month - billing_start) / _seconds(period))
        last = min(started, max(in_month, index + 1))
        per_month[month] = per_month.get(month, 0) + (last - index)
        index = last
    return sum(min(cap, count) for count in per_month.values())


def hourly_price(monthly_cost: float, plan_id: str = "") -> float:
    """Monthly price spread over the monthly cap, so a capped month costs the monthly price."""
    return monthly_cost / month_cap(plan_id)


def cost(units: int, monthly_cost: float, plan_id: str = "") -> float:
    """What `units` billed periods cost at a plan's monthly price."""
    return units * hourly_price(monthly_cost, plan_id)


# --- from a BillingModel ------------------------------------------------------------

_NO_CAP = 10**12  # more periods than any month holds


def period_anchor(model: BillingModel, created: datetime) -> datetime:
    """Where the server's first billing period starts: at creation, or at the start of
    the clock hour it was created in (each commenced clock hour is billed)."""
    if model.anchor == "clock_hour":
        return created.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return created


def deadline_for(
    model: BillingModel, created: datetime, now: datetime, margin: timedelta
) -> datetime:
    """When deleting an idle server stops the bill growing at the least cost.

    Periodic models: `margin` before the next period boundary (the one after, when
    that moment is already past). Per-second models have no boundary to beat: the
    bill grows from the first second past the minimum, so the answer is now, or the
    end of the minimum charge if that is still ahead (deleting earlier saves nothing).
    """
    if model.per_second:
        return max(now, created + timedelta(seconds=model.minimum_seconds))
    period = timedelta(seconds=model.period_seconds)
    return terminate_deadline(period_anchor(model, created), now, period, margin)


def idle_window_deadline(
    busy: bool, idle_since: datetime | None, now: datetime, window: timedelta
) -> datetime:
    """When an idle per-second server goes: `window` after it went idle (absorbing a
    burst of jobs costs seconds, not another server's minimum). A busy server's window
    has not started: it would go `window` after now at the earliest, so going busy
    cancels the deadline and going idle again restarts it. The minimum charge is not
    waited out: with the default window it is long used up by then, and a shorter
    window is the operator's choice of capacity over the cents it would save."""
    if window <= timedelta(0):
        raise ValueError(f"idle window {window} must be positive")
    if busy or idle_since is None:
        return now + window
    return idle_since + window


def billed_periods_for(model: BillingModel, created: datetime, end: datetime) -> int:
    """Periods billed from `created` to `end` (periodic models; each month capped)."""
    cap = (
        math.floor(model.monthly_cap_hours * 3600 / model.period_seconds)
        if model.monthly_cap_hours is not None
        else _NO_CAP
    )
    period = timedelta(seconds=model.period_seconds)
    return billed_units(period_anchor(model, created), max(end, created), period, cap)


def billed_seconds_for(model: BillingModel, created: datetime, end: datetime) -> int:
    """Seconds billed from `created` to `end` on a per-second model: every started
    second, at least the minimum."""
    lived = max(0.0, _seconds(end - created))
    return max(math.ceil(lived), math.ceil(model.minimum_seconds))


def charge_for(model: BillingModel, created: datetime, end: datetime, hourly: float) -> float:
    """What a server created at `created` and deleted at `end` costs at `hourly` per hour:
    whole periods started (periodic) or seconds lived (per second), at least the minimum,
    and each calendar month at most its cap."""
    per_period = hourly * model.period_seconds / 3600
    if not model.per_second:
        units = billed_periods_for(model, created, end)
        return max(units * per_period, model.minimum_charge)
    seconds = max(_seconds(end - created), model.minimum_seconds)
    total = 0.0
    start, stop = created, created + timedelta(seconds=seconds)
    while start < stop:  # one calendar month at a time, each capped
        month_end = (_month_start(start) + timedelta(days=32)).replace(day=1)
        span = _seconds(min(stop, month_end) - start)
        amount = span * hourly / 3600
        if model.monthly_cap_hours is not None:
            amount = min(amount, model.monthly_cap_hours * hourly)
        total += amount
        start = month_end
    return max(total, model.minimum_charge)
