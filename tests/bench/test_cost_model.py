"""The cost benchmark's offline model (bench/cost_model.py): trace generation and the
clairvoyant / lower bounds, on hand-computed cases. Pure; starts nothing."""

from __future__ import annotations

import pytest

from bench.cost_model import (
    MAX_CONCURRENCY,
    TRACE_KINDS,
    TraceSet,
    clairvoyant,
    lower_bound,
    make_trace,
    make_traces,
    peak_concurrency,
    periods,
)

P = 60.0  # billing period (s)
B = 2.0  # boot time (s)


def test_same_seed_same_traces() -> None:
    assert make_traces(5, 12, P) == make_traces(5, 12, P)
    assert make_traces(5, 12, P).traces != make_traces(6, 12, P).traces


@pytest.mark.parametrize("kind", TRACE_KINDS)
def test_traces_scale_with_the_period(kind: str) -> None:
    short, long = make_trace(kind, 3, 12, 60), make_trace(kind, 3, 12, 120)
    assert len(short) == len(long) > 0
    for (a1, d1), (a2, d2) in zip(short, long, strict=True):
        assert a2 == pytest.approx(2 * a1, abs=0.002)
        assert d2 == pytest.approx(2 * d1, abs=0.002)


@pytest.mark.parametrize("hours", [3, 12, 24])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_traces_fit_their_window_and_concurrency(seed: int, hours: float) -> None:
    traces = make_traces(seed, hours, P)
    for kind, jobs in traces.traces.items():
        assert jobs == sorted(jobs)
        assert all(a >= 0 and d > 0 for a, d in jobs)
        # Every job ends at least 5 simulated minutes before the window does.
        assert all(a + d <= traces.window - 5 for a, d in jobs), kind
        assert peak_concurrency(jobs) <= MAX_CONCURRENCY[kind]


def test_trace_kinds_look_like_their_names() -> None:
    traces = make_traces(1, 12, P).traces
    sparse = traces["sparse"]
    assert 3 <= len(sparse) <= 12
    assert all(b[0] - a[0] >= P for a, b in zip(sparse, sparse[1:], strict=False))
    assert all(20 <= d <= 40 for _, d in traces["steady"])
    assert all(3 <= d <= 20 for _, d in traces["bursty"])
    assert peak_concurrency(traces["bursty"]) > peak_concurrency(traces["sparse"])


def test_saved_traces_replay_and_rescale(tmp_path) -> None:
    traces = make_traces(4, 3, P)
    path = tmp_path / "traces.json"
    traces.save(path)
    again = TraceSet.load(path)
    assert again.traces == {k: [tuple(j) for j in v] for k, v in traces.traces.items()}
    assert (again.seed, again.hours, again.period) == (4, 3, P)
    doubled = TraceSet.load(path, period=120)
    assert doubled.period == 120 and doubled.window == 2 * traces.window
    assert doubled.traces["steady"][0][1] == pytest.approx(2 * traces.traces["steady"][0][1])


def test_periods_count_started_periods() -> None:
    assert periods(0, P) == 1
    assert periods(60, P) == 1
    assert periods(60.5, P) == 2
    assert periods(180, P) == 3


def test_peak_concurrency_touching_jobs_do_not_overlap() -> None:
    assert peak_concurrency([]) == 0
    assert peak_concurrency([(0, 10), (10, 10), (20, 10)]) == 1
    assert peak_concurrency([(0, 10), (5, 10), (9, 1)]) == 3


def test_two_jobs_in_one_paid_hour_share_a_server() -> None:
    schedule = clairvoyant([(10, 5), (30, 10)], P, B)
    assert (schedule.servers, schedule.units) == (1, 1)
    assert [a.server for a in schedule.assignments] == [0, 0]


def test_a_job_far_apart_gets_a_new_server() -> None:
    # Keeping server 0 from 8 s to 205 s would bill 4 periods; a new one bills 1.
    schedule = clairvoyant([(10, 5), (200, 5)], P, B)
    assert (schedule.servers, schedule.units) == (2, 2)
    assert schedule.units_per_server == [1, 1]


def test_overlapping_jobs_need_two_servers() -> None:
    schedule = clairvoyant([(0, 30), (10, 30)], P, B)
    assert (schedule.servers, schedule.units) == (2, 2)
    assert lower_bound([(0, 30), (10, 30)], P, B) == 2


def test_extending_a_server_when_it_costs_no_more_than_a_new_one() -> None:
    # Server created at -2 s; the second job ends at 75 s: 2 periods instead of 1, the same
    # one period a new server would cost, so the existing server is kept.
    schedule = clairvoyant([(0, 50), (55, 20)], P, B)
    assert (schedule.servers, schedule.units) == (1, 2)


def test_the_cheapest_free_server_is_chosen() -> None:
    # At 55 s both servers are free: server 0 (created -2 s, last job ended 50 s) has paid
    # until 58 s, server 1 (created 8 s, ended 30 s) until 68 s; a job ending at 65 s fits
    # server 1's paid time only, though server 0 finished more recently.
    jobs = [(0, 50), (10, 20), (55, 10)]
    schedule = clairvoyant(jobs, P, B)
    assert [a.server for a in schedule.assignments] == [0, 1, 1]
    assert schedule.units == 2


def test_lower_bound_counts_busy_time_and_boots() -> None:
    jobs = [(0, 50), (50, 50), (100, 50)]  # back to back: one server
    assert peak_concurrency(jobs) == 1
    assert lower_bound(jobs, P, B) == 3  # ceil((150 + 2) / 60)
    assert clairvoyant(jobs, P, B).units == 3
    assert lower_bound([], P, B) == 0


@pytest.mark.parametrize("seed", range(1, 6))
def test_lower_bound_never_exceeds_clairvoyant(seed: int) -> None:
    for jobs in make_traces(seed, 12, P).traces.values():
        schedule = clairvoyant(jobs, P, B)
        assert lower_bound(jobs, P, B) <= schedule.units
        assert schedule.servers >= peak_concurrency(jobs)
        assert schedule.units == sum(schedule.units_per_server)
