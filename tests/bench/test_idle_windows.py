"""bench/idle_windows.py: what each idle-window policy pays on a tiny trace, by hand.

The burst: five 20 s jobs, each arriving 10 s after the previous one ended on a server
that took 40 s to boot (arrivals 0, 70, 100, 130, 160). A window of 60 s keeps one
server for the whole burst; deleting at once boots a new server for every job."""

from __future__ import annotations

import pytest

from bench.idle_windows import (
    BILLING_AWARE,
    HOURLY_PRICE,
    MODELS,
    cheapest,
    replay,
)
from providers.base import BillingModel

BURST = [(0.0, 20.0), (70.0, 20.0), (100.0, 20.0), (130.0, 20.0), (160.0, 20.0)]
BOOT = 40.0
END = 300.0
PER_SECOND_NO_MINIMUM = BillingModel(period_seconds=1)


def cost(policy, model, boot=BOOT, jobs=BURST):  # type: ignore[no-untyped-def]
    return replay(jobs, policy, model, boot=boot, end=END)


def test_with_boot_time_a_window_longer_than_the_gaps_beats_deleting_at_once() -> None:
    at_once, window = cost(0, PER_SECOND_NO_MINIMUM), cost(60, PER_SECOND_NO_MINIMUM)
    # At once: 5 servers x (40 s boot + 20 s job). Window: one server from 0 s until
    # 60 s after the last job ends (180 s).
    assert (at_once.servers, at_once.paid_seconds) == (5, 300.0)
    assert (window.servers, window.paid_seconds) == (1, 240.0)
    assert window.cost == pytest.approx(240 * HOURLY_PRICE / 3600)
    assert cheapest([at_once, window]) is window


def test_without_boot_time_or_minimum_deleting_at_once_is_cheapest() -> None:
    costs = [cost(w, PER_SECOND_NO_MINIMUM, boot=0.0) for w in (0, 60, None)]
    # At once pays the jobs' 100 s and nothing else; the window keeps one server from
    # 0 s to 60 s after the last job (240 s), never until the end.
    assert [c.paid_seconds for c in costs] == [100.0, 240.0, END]
    assert cheapest(costs).policy == "W=0 s"


def test_the_per_second_minimum_charge_makes_a_window_pay_even_without_boot_time() -> None:
    do = MODELS["per-second"]  # 60 s and $0.01 at least per server
    at_once, window = cost(0, do, boot=0.0), cost(60, do, boot=0.0)
    assert at_once.cost == pytest.approx(5 * 0.01)
    assert window.cost == pytest.approx(0.01)  # one server for 240 s: under $0.01
    assert cheapest([at_once, window]) is window


def test_billing_aware_keeps_one_server_for_the_burst_on_hourly_billing() -> None:
    hourly = MODELS["hourly"]
    ours, at_once = cost(BILLING_AWARE, hourly), cost(0, hourly)
    # One started hour for the one server against one hour for each of five.
    assert (ours.servers, ours.cost) == (1, pytest.approx(HOURLY_PRICE))
    assert (at_once.servers, at_once.cost) == (5, pytest.approx(5 * HOURLY_PRICE))
    # Ours deletes the idle server 60 s before its first boundary.
    assert ours.paid_seconds == 3600 - 60


def test_billing_aware_on_per_second_billing_goes_once_the_minimum_is_paid() -> None:
    jobs = [(0.0, 10.0), (45.0, 10.0)]  # the second arrives inside the first's minute
    ours = replay(jobs, BILLING_AWARE, MODELS["per-second"], boot=0.0, end=END)
    assert (ours.servers, ours.paid_seconds) == (1, 60.0)
