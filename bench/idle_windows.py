"""Idle-window policies under hourly and per-second billing, replayed offline (pure; no
IO) on the cost benchmark's job traces (bench/cost_model.py).

A policy decides when an idle server goes: `window` W seconds after it went idle
(W = 0: delete at once; None: never, kept until the trace ends), or "billing-aware"
(ours: core.billing.deadline_for, i.e. the margin before the next boundary on
hourly billing, and once the minimum is paid on per-second billing). The scheduler is
the live benchmark's: a job takes the most recently idle server still alive; with none
it creates one and waits `boot` seconds for it. Every server is billed from creation
(the boot included) to deletion by `billing.charge_for` with the model's minimums.

What makes a window pay under per-second billing: not the boundary (there is none) but
what each new server costs beyond the job itself, the boot time and the minimum charge
(DigitalOcean: 60 s and $0.01). Keeping an idle server for a gap g costs g; replacing it
costs boot plus whatever the minimum adds. So a window wins on bursts whose gaps are
shorter than that, and loses on sparse jobs, where every window is paid in full.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core import billing
from providers.base import BillingModel
from providers.digitalocean.provider import digitalocean_billing_model

__all__ = [
    "BILLING_AWARE",
    "MODELS",
    "WINDOWS",
    "PolicyCost",
    "cheapest",
    "label",
    "replay",
]

Job = tuple[float, float]  # (arrival, duration), seconds after the trace start
BILLING_AWARE = "billing-aware"
WINDOWS: tuple[float | None, ...] = (0, 60, 300, 900, None)
# The two ways providers bill, at one price ($6 a month = 6/672 an hour) so that only
# the model differs: Vultr/Hetzner every started hour; DigitalOcean per second.
MODELS: dict[str, BillingModel] = {
    "hourly": BillingModel.hourly(monthly_cap_hours=672),
    "per-second": digitalocean_billing_model(),
}
HOURLY_PRICE = 6 / 672
_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; any fixed moment would do


@dataclass(frozen=True)
class PolicyCost:
    policy: str  # "W=300 s", "never", "billing-aware"
    cost: float
    servers: int  # created, i.e. jobs that waited for a boot
    paid_seconds: float  # creation to deletion, summed


def label(window: float | None) -> str:
    return "never" if window is None else f"W={window:g} s"


@dataclass
class _Server:
    created: float
    free_at: float  # when its current job ends (or ended)
    delete_at: float = math.inf


def _at(seconds: float) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def replay(
    jobs: Sequence[Job],
    policy: float | str | None,
    model: BillingModel,
    *,
    boot: float,
    end: float,
    margin: float = 60.0,
    hourly: float = HOURLY_PRICE,
) -> PolicyCost:
    """The bill of one policy on one trace. `policy`: an idle window in seconds, None
    (never: kept until `end`) or BILLING_AWARE (`margin` before a boundary)."""

    def goes_at(server: _Server) -> float:
        """When an idle server is deleted if no job takes it first."""
        if policy is None:
            return max(end, server.free_at)
        if policy == BILLING_AWARE:
            deadline = billing.deadline_for(
                model, _at(server.created), _at(server.free_at), timedelta(seconds=margin)
            )
            return (deadline - _EPOCH).total_seconds()
        assert isinstance(policy, int | float)
        return server.free_at + float(policy)

    live: list[_Server] = []
    gone: list[_Server] = []
    for arrival, duration in sorted(jobs):
        for server in [s for s in live if s.free_at <= arrival and s.delete_at <= arrival]:
            live.remove(server)
            gone.append(server)
        idle = [s for s in live if s.free_at <= arrival]
        if idle:
            server = max(idle, key=lambda s: s.free_at)  # the most recently idle
            server.free_at = arrival + duration
        else:
            server = _Server(created=arrival, free_at=arrival + boot + duration)
            live.append(server)
        server.delete_at = goes_at(server)
    gone += live
    cost = sum(billing.charge_for(model, _at(s.created), _at(s.delete_at), hourly) for s in gone)
    paid = sum(s.delete_at - s.created for s in gone)
    name = BILLING_AWARE if policy == BILLING_AWARE else label(policy)  # type: ignore[arg-type]
    return PolicyCost(name, cost, len(gone), paid)


def cheapest(costs: Sequence[PolicyCost]) -> PolicyCost:
    """The lowest bill; on a tie the first listed (the shorter window)."""
    return min(costs, key=lambda c: round(c.cost, 9))
