"""Cost report arithmetic over recorded server histories (pure; no IO).

"Hours" are billing periods throughout (3600 s in production, shorter in demos).
For each server: billed periods and cost (monthly-cap aware), busy time, paid-but-idle
time, and what a "terminate after N idle minutes" policy would have paid for the
same busy intervals (provisioning assumed instant, which flatters that policy).
Per-second servers count seconds (the minimum charge included) and compare with
deleting at once whenever idle (a fresh server per job) and with keeping it running.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from core import billing
from core.lifecycle import ServerState
from core.models import ServerStatus, billing_cost
from providers.base import BillingModel

__all__ = ["CostLine", "CostReport", "busy_intervals", "cost_report", "idle_timeout_units"]


class CostLine(BaseModel):
    name: str
    workflow_id: str
    state: ServerState
    plan: str
    billing_start: datetime | None
    end: datetime | None
    period_seconds: int  # the period this server was billed by
    billed_hours: int
    cost: float
    busy_hours: float
    paid_idle_hours: float
    idle_timeout_hours: int
    idle_timeout_cost: float
    # Per-second servers only (None otherwise): seconds billed, and what deleting at once
    # whenever idle, or keeping the server running until now, would have cost.
    billed_seconds: int | None = None
    delete_at_once_cost: float | None = None
    keep_running_cost: float | None = None


class CostReport(BaseModel):
    # The servers' billing period; the default one when they differ or none is listed.
    period_seconds: int
    idle_timeout_minutes: float
    servers: list[CostLine]
    billed_hours: int
    cost: float
    busy_hours: float
    paid_idle_hours: float
    idle_timeout_hours: int
    idle_timeout_cost: float
    billed_seconds: int = 0


def per_second_alternatives(
    model: BillingModel,
    intervals: list[tuple[datetime, datetime]],
    start: datetime,
    now: datetime,
    hourly: float,
) -> tuple[float, float]:
    """What a per-second server would have cost deleted the moment it went idle (one
    server per busy stretch, created instantly, each paying the minimum; a server never
    used pays the minimum once), and kept running from `start` until `now`."""
    stretches = intervals or [(start, start)]
    at_once = math.fsum(billing.charge_for(model, a, b, hourly) for a, b in stretches)
    return at_once, billing.charge_for(model, start, now, hourly)


def busy_intervals(status: ServerStatus, now: datetime) -> list[tuple[datetime, datetime]]:
    """(start, end) of each EXECUTING stretch in the timeline."""
    intervals: list[tuple[datetime, datetime]] = []
    started: datetime | None = None
    for entry in status.timeline:
        if entry.state == ServerState.EXECUTING and started is None:
            started = entry.at
        elif entry.state != ServerState.EXECUTING and started is not None:
            intervals.append((started, entry.at))
            started = None
    if started is not None:
        intervals.append((started, status.deleted_at or now))
    return intervals


def idle_timeout_units(
    intervals: list[tuple[datetime, datetime]],
    period: timedelta,
    idle_timeout: timedelta,
    plan: str,
    first_start: datetime | None = None,
) -> int:
    """Billed periods if servers were deleted `idle_timeout` after going idle and a new
    one was created for the next job. Busy stretches closer than the timeout share a
    server; each server is billed whole periods started."""
    if not intervals:
        if first_start is None:
            return 0
        # Never used: such a policy would still have kept it for the timeout.
        return billing.billed_units(
            first_start, first_start + idle_timeout, period, billing.month_cap(plan)
        )
    units = 0
    session_start = first_start or intervals[0][0]
    session_end = intervals[0][1]
    for start, end in intervals[1:]:
        if start - session_end <= idle_timeout:
            session_end = max(session_end, end)
            continue
        units += billing.billed_units(
            session_start, session_end + idle_timeout, period, billing.month_cap(plan)
        )
        session_start, session_end = start, end
    units += billing.billed_units(
        session_start, session_end + idle_timeout, period, billing.month_cap(plan)
    )
    return units


def cost_report(
    statuses: Iterable[ServerStatus],
    period: timedelta,
    now: datetime,
    idle_timeout: timedelta = timedelta(minutes=10),
) -> CostReport:
    """`period` prices servers recorded without their own billing period (older
    records); every other server is priced by the period it was billed by."""
    default_period = period
    lines: list[CostLine] = []
    for status in statuses:
        if status.billing_start is None:
            continue  # never created at Vultr: nothing billed
        period = (
            timedelta(seconds=status.billing_period_seconds)
            if status.billing_period_seconds
            else default_period
        )
        end = status.deleted_at or now
        units, charged = billing_cost(
            status.billing_start,
            end,
            period,
            status.plan,
            status.monthly_cost,
            status.hourly_cost,
            status.billing_model,
        )
        unit_price = (
            status.hourly_cost
            if status.hourly_cost is not None
            else billing.hourly_price(status.monthly_cost or 0.0, status.plan)
        )
        intervals = busy_intervals(status, now)
        busy = sum((b - a).total_seconds() for a, b in intervals)
        paid = units * period.total_seconds()
        model = status.billing_model
        per_second: dict[str, Any] = {}
        if model is not None and model.per_second:
            paid = float(units)  # seconds, not periods
            at_once, kept = per_second_alternatives(
                model, intervals, status.billing_start, now, unit_price
            )
            per_second = {
                "billed_seconds": units,
                "delete_at_once_cost": at_once,
                "keep_running_cost": kept,
            }
            units = alt = 0  # no periods; the idle-timeout comparison is hourly
        else:
            alt = idle_timeout_units(
                intervals, period, idle_timeout, status.plan, status.billing_start
            )
        lines.append(
            CostLine(
                name=status.name,
                workflow_id=status.workflow_id,
                state=status.state,
                plan=status.plan,
                billing_start=status.billing_start,
                end=status.deleted_at,
                period_seconds=int(period.total_seconds()),
                billed_hours=units,
                cost=charged,
                busy_hours=busy / period.total_seconds(),
                paid_idle_hours=max(0.0, paid - busy) / period.total_seconds(),
                idle_timeout_hours=alt,
                idle_timeout_cost=alt * unit_price,
                **per_second,
            )
        )
    periods = {line.period_seconds for line in lines}
    return CostReport(
        period_seconds=periods.pop() if len(periods) == 1 else int(default_period.total_seconds()),
        idle_timeout_minutes=idle_timeout.total_seconds() / 60,
        servers=lines,
        billed_hours=sum(line.billed_hours for line in lines),
        cost=math.fsum(line.cost for line in lines),
        busy_hours=sum(line.busy_hours for line in lines),
        paid_idle_hours=sum(line.paid_idle_hours for line in lines),
        idle_timeout_hours=sum(line.idle_timeout_hours for line in lines),
        idle_timeout_cost=math.fsum(line.idle_timeout_cost for line in lines),
        billed_seconds=sum(line.billed_seconds or 0 for line in lines),
    )
