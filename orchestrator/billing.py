"""Billing-period arithmetic: where the next boundary is, when to delete, what was billed.

Vultr bills every started hour from deploy, at monthly price / 672, capped at 672
hours per calendar month (730 for GPU plans). All functions are pure so the
workflow can call them with `workflow.now()` and tests can check them exhaustively.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

__all__ = [
    "HOURS_PER_MONTH_CAP",
    "GPU_HOURS_PER_MONTH_CAP",
    "billed_units",
    "cost",
    "hourly_price",
    "idle_at_deadline",
    "month_cap",
    "next_boundary",
    "paid_until",
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


def paid_until(billing_start: datetime, now: datetime, period: timedelta) -> datetime:
    """Everything before this instant is already paid for (same as the next boundary)."""
    return next_boundary(billing_start, now, period)


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
