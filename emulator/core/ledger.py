"""The billing ledger: what each server ever created has cost, from its face's tariff and
the pure math in billing.py. Shown by GET /admin/ledger, an independent check of the
product's own billing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from emulator.core import billing
from emulator.core.clock import format_time

__all__ = ["Billable", "Ledger", "Tariff"]


@dataclass(frozen=True, slots=True)
class Tariff:
    """How a server is billed: `unit_price` per billing period started, at most
    `month_cap_units` periods per calendar month and, when set, at most `month_cap_price`
    per calendar month (Hetzner caps at the type's monthly price)."""

    unit_price: Fraction
    month_cap_units: int
    month_cap_price: Fraction | None = None

    def month_total(self, units: int) -> Fraction:
        amount = units * self.unit_price
        if self.month_cap_price is not None:
            amount = min(amount, self.month_cap_price)
        return amount


class Billable(Protocol):
    id: str
    deleted_at: datetime | None

    @property
    def billing_anchor(self) -> datetime:
        """When billing starts (whole seconds, as the face shows it)."""

    def tariff(self) -> Tariff: ...

    def ledger_fields(self) -> dict[str, Any]:
        """The face's identifying columns of a ledger row (id, name, labels, plan...)."""


class Ledger:
    def __init__(self, billing_period_seconds: float) -> None:
        self.period = billing_period_seconds

    def month_charges(self, server: Billable, now: datetime) -> list[billing.MonthCharge]:
        end = server.deleted_at if server.deleted_at is not None else now
        cap = server.tariff().month_cap_units
        return billing.month_charges(server.billing_anchor, end, self.period, cap)

    def row(self, server: Billable, now: datetime) -> tuple[dict[str, Any], Fraction]:
        tariff = server.tariff()
        charges = self.month_charges(server, now)
        amount = sum((tariff.month_total(c.units) for c in charges), Fraction(0))
        row = {
            **server.ledger_fields(),
            "created_at": format_time(server.billing_anchor),
            "deleted_at": format_time(server.deleted_at) if server.deleted_at else None,
            "units": sum(c.units for c in charges),
            "unit_price": float(tariff.unit_price),
            "total": float(amount),
        }
        return row, amount

    def rows(self, servers: Any, now: datetime) -> tuple[list[dict[str, Any]], Fraction]:
        """One row per server in `servers` (an iterable of Billable), and their total."""
        rows: list[dict[str, Any]] = []
        total = Fraction(0)
        for server in servers:
            row, amount = self.row(server, now)
            rows.append(row)
            total += amount
        return rows, total
