"""DigitalOcean's per-second billing from `created_at`: every started second, at least 60
seconds and at least $0.01 a droplet, each calendar month capped at the monthly price
(672 hours at the hourly price). The month split is the core's billing math with a
one-second period; `billing_period_seconds` stretches or shrinks the billed hour, so a
billed second lasts `billing_period_seconds / 3600` real seconds."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from emulator.core import billing
from emulator.digitalocean.catalog import MONTHLY_CAP_HOURS, Size

__all__ = ["MINIMUM_CHARGE", "MINIMUM_SECONDS", "Charge", "charge", "second_price"]

MINIMUM_SECONDS = 60
MINIMUM_CHARGE = Fraction(1, 100)
_CAP_SECONDS = MONTHLY_CAP_HOURS * 3600


class Charge:
    __slots__ = ("seconds", "total")

    def __init__(self, seconds: int, total: Fraction) -> None:
        self.seconds = seconds  # billed, the minimum included
        self.total = total


def second_price(size: Size) -> Fraction:
    return Fraction(size.price_monthly, _CAP_SECONDS)


def charge(size: Size, created_at: datetime, end: datetime, period_seconds: float) -> Charge:
    months = billing.month_charges(created_at, end, period_seconds / 3600, _CAP_SECONDS)
    seconds = max(MINIMUM_SECONDS, sum(m.units for m in months))
    return Charge(seconds, max(MINIMUM_CHARGE, seconds * second_price(size)))
