"""Hourly billing with a monthly cap, as pure functions of times and prices.

A server is billed one unit per billing period started since it was created
(the first period is billed at once), and a period belongs to the calendar
month in which it starts. Each calendar month is capped at a number of units
that the face chooses (Vultr: 672, 730 for GPU plans; see vultr/catalog.py).

Times are converted to whole microseconds so that every comparison is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

__all__ = [
    "MonthCharge",
    "charge_total",
    "month_charges",
    "month_start",
    "next_month_start",
    "periods_started",
    "total_units",
    "unit_price",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MonthCharge:
    """The units billed for one server in one calendar month.

    `start` and `end` bound the part of the month the server existed in
    (creation or the first of the month; deletion, `now` or the first of the next month).
    """

    month: datetime
    start: datetime
    end: datetime
    units: int


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"billing needs timezone-aware datetimes, got naive {moment.isoformat()}")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _period_micros(period_seconds: float) -> int:
    micros = round(period_seconds * 1_000_000)
    if micros < 1:
        raise ValueError(f"billing period must be at least 1 microsecond, got {period_seconds!r} s")
    return micros


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def month_start(moment: datetime) -> datetime:
    """Midnight UTC on the first day of `moment`'s calendar month."""
    utc = moment.astimezone(UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(moment: datetime) -> datetime:
    """Midnight UTC on the first day of the calendar month after `moment`'s."""
    first = month_start(moment)
    if first.month == 12:
        return first.replace(year=first.year + 1, month=1)
    return first.replace(month=first.month + 1)


def periods_started(created_at: datetime, end: datetime, period_seconds: float) -> int:
    """Billing periods started in [created_at, end): at least one, partial ones count whole."""
    elapsed = _micros(end) - _micros(created_at)
    return max(1, _ceil_div(elapsed, _period_micros(period_seconds)))


def month_charges(
    created_at: datetime, end: datetime, period_seconds: float, monthly_cap: int
) -> list[MonthCharge]:
    """One entry per calendar month in which a billed period starts, capped at `monthly_cap`."""
    if monthly_cap < 1:
        raise ValueError(f"monthly cap must be at least 1 unit, got {monthly_cap}")
    period = _period_micros(period_seconds)
    created = _micros(created_at)
    periods = periods_started(created_at, end, period_seconds)
    last_start = created_at + timedelta(microseconds=(periods - 1) * period)
    end = max(end, created_at)

    charges: list[MonthCharge] = []
    month = month_start(created_at)
    while month <= last_start:
        following = next_month_start(month)
        # Periods k with month <= created + k * period < following.
        first_k = max(0, _ceil_div(_micros(month) - created, period))
        stop_k = min(periods, _ceil_div(_micros(following) - created, period))
        if stop_k > first_k:
            charges.append(
                MonthCharge(
                    month=month,
                    start=max(created_at, month),
                    end=min(end, following),
                    units=min(stop_k - first_k, monthly_cap),
                )
            )
        month = following
    return charges


def total_units(
    created_at: datetime, end: datetime, period_seconds: float, monthly_cap: int
) -> int:
    """Units billed from creation to `end` (deletion, or now while the server exists)."""
    return sum(c.units for c in month_charges(created_at, end, period_seconds, monthly_cap))


def unit_price(monthly_cost: Fraction | int, monthly_cap: int) -> Fraction:
    """The price of one billed period: the monthly price spread over the monthly cap."""
    return Fraction(monthly_cost) / monthly_cap


def charge_total(units: int, monthly_cost: Fraction | int, monthly_cap: int) -> Fraction:
    return units * unit_price(monthly_cost, monthly_cap)
