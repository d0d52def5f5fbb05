"""The offline half of the cost benchmark (bench/cost_policies.py): job traces and the
clairvoyant bound. Pure functions with no IO beyond reading and writing trace files, and
nothing heavier than the standard library, so the unit tests (tests/bench) import it in
milliseconds and start nothing.

Time is in wall seconds for a billing period `period` (one simulated "hour"); the
generators think in simulated minutes (`period / 60` seconds each) and scale.

A trace is a list of jobs `(arrival, duration)`, sorted by arrival, seconds after the
trace starts. Three kinds:

- bursty: a CI-like day: quiet night, bursts of several to ~15 short jobs in working
  hours with irregular gaps, fewer around lunch and in the evening;
- steady: a Poisson batch load of 20-40 minute jobs, a few servers' worth at once;
- sparse: a handful of isolated short jobs, 1-3 hours apart.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "TRACE_KINDS",
    "Assignment",
    "Job",
    "Schedule",
    "TraceSet",
    "clairvoyant",
    "day_start_for",
    "lower_bound",
    "make_trace",
    "make_traces",
    "peak_concurrency",
    "periods",
]

Job = tuple[float, float]  # (arrival, duration), seconds after the trace start

TRACE_KINDS = ("bursty", "steady", "sparse")
MAX_CONCURRENCY = {"bursty": 15, "steady": 8, "sparse": 3}
EPSILON = 1e-9

# Bursts per simulated hour by hour of the day (UTC-less "office" clock), bursty trace.
_BURSTS_PER_HOUR = [
    (0, 7, 0.15),  # night: the odd nightly pipeline
    (7, 9, 1.0),  # people arrive
    (9, 12, 2.5),
    (12, 13, 0.4),  # lunch
    (13, 17, 2.5),
    (17, 19, 0.8),
    (19, 24, 0.2),  # evening
]


def periods(seconds: float, period: float) -> int:
    """Billing periods started in `seconds` of life (at least one, like the emulator)."""
    return max(1, math.ceil(seconds / period - EPSILON))


def peak_concurrency(jobs: Iterable[Job]) -> int:
    """Most jobs running at once; a job ending at t does not overlap one starting at t."""
    events = sorted(
        [(a, 1) for a, _ in jobs] + [(a + d, -1) for a, d in jobs],
        key=lambda e: (e[0], e[1]),  # ends (-1) before starts (+1) at the same instant
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def _fits(jobs: Sequence[Job], job: Job, cap: int) -> bool:
    return peak_concurrency([*jobs, job]) <= cap


def _bursts_per_hour(clock: float) -> float:
    clock %= 24
    for start, end, rate in _BURSTS_PER_HOUR:
        if start <= clock < end:
            return rate
    return 0.0


def day_start_for(hours: float) -> float:
    """Where a simulated day of `hours` starts on the office clock: a whole day from
    midnight, half a day from 07:00 (the working day and its edges), shorter from 09:00."""
    if hours >= 20:
        return 0.0
    return 7.0 if hours >= 8 else 9.0


def _bursty(rng: random.Random, hours: float, day_start: float) -> list[Job]:
    peak_rate = max(rate for _, _, rate in _BURSTS_PER_HOUR)
    last_arrival = hours * 60 - 30  # every job is over well before the window ends
    jobs: list[Job] = []
    t = 0.0
    while True:
        t += rng.expovariate(peak_rate) * 60  # thinning: candidate bursts at the peak rate
        if t >= last_arrival:
            break
        rate = _bursts_per_hour(day_start + t / 60)
        if rng.random() >= rate / peak_rate:
            continue
        if rate < 0.5:
            size = rng.randint(1, 4)  # night or evening: a nightly pipeline or a straggler
        else:
            size = rng.choice([3, 4, 5, 6, 6, 7, 8, 8, 9, 10, 12, 15])
        spread = rng.uniform(1.0, 4.0)  # minutes over which the burst's jobs arrive
        for _ in range(size):
            arrival = min(t + rng.uniform(0, spread), last_arrival)
            duration = 3 + 17 * rng.betavariate(1.3, 2.5)  # 3-20 minutes, mostly short
            if _fits(jobs, (arrival, duration), MAX_CONCURRENCY["bursty"]):
                jobs.append((arrival, duration))
    return jobs


def _steady(rng: random.Random, hours: float) -> list[Job]:
    rate = 6.0  # jobs per hour, 20-40 minutes each: about three running at a time
    last_arrival = hours * 60 - 45
    jobs: list[Job] = []
    t = rng.uniform(0, 10)
    while t < last_arrival:
        job = (t, rng.uniform(20, 40))
        if _fits(jobs, job, MAX_CONCURRENCY["steady"]):
            jobs.append(job)
        t += rng.expovariate(rate) * 60
    return jobs


def _sparse(rng: random.Random, hours: float) -> list[Job]:
    last_arrival = hours * 60 - 20
    jobs: list[Job] = []
    t = rng.uniform(10, 60)
    while t < last_arrival:
        jobs.append((t, rng.uniform(3, 15)))
        t += rng.uniform(60, 180)
    return jobs


def make_trace(
    kind: str, seed: int, hours: float, period: float, day_start: float | None = None
) -> list[Job]:
    """One trace, deterministic for (kind, seed, hours, day_start); in seconds for
    `period` (arrivals and durations scale with it, nothing else changes)."""
    rng = random.Random(f"cost:{kind}:{seed}")
    if kind == "bursty":
        start = day_start_for(hours) if day_start is None else day_start
        minutes = _bursty(rng, hours, start)
    elif kind == "steady":
        minutes = _steady(rng, hours)
    elif kind == "sparse":
        minutes = _sparse(rng, hours)
    else:
        raise ValueError(f"unknown trace kind {kind!r}; known: {', '.join(TRACE_KINDS)}")
    scale = period / 60
    return sorted((round(a * scale, 3), round(d * scale, 3)) for a, d in minutes)


@dataclass
class TraceSet:
    """The traces of one benchmark run, as saved and replayed (`--traces FILE`)."""

    seed: int
    period: float
    hours: float
    day_start: float
    traces: dict[str, list[Job]]

    @property
    def window(self) -> float:
        """Length of the trace window in seconds: every job ends before it."""
        return self.hours * self.period

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "period_seconds": self.period,
            "hours": self.hours,
            "day_start_hour": self.day_start,
            "window_seconds": self.window,
            "jobs_are": "[arrival, duration] in seconds after the trace start",
            "traces": {k: [list(j) for j in v] for k, v in self.traces.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], period: float | None = None) -> TraceSet:
        """Read a saved set; with `period`, rescale it to that billing period."""
        saved = float(data["period_seconds"])
        scale = 1.0 if period is None else period / saved
        traces = {
            kind: sorted((float(a) * scale, float(d) * scale) for a, d in jobs)
            for kind, jobs in data["traces"].items()
        }
        return cls(
            seed=int(data["seed"]),
            period=saved * scale,
            hours=float(data["hours"]),
            day_start=float(data.get("day_start_hour", 0.0)),
            traces=traces,
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path, period: float | None = None) -> TraceSet:
        return cls.from_json(json.loads(path.read_text()), period)


def make_traces(seed: int, hours: float, period: float) -> TraceSet:
    start = day_start_for(hours)
    return TraceSet(
        seed=seed,
        period=period,
        hours=hours,
        day_start=start,
        traces={k: make_trace(k, seed, hours, period, start) for k in TRACE_KINDS},
    )


# --------------------------------------------------------------------------- bounds


@dataclass
class Assignment:
    server: int
    start: float
    end: float


@dataclass
class _OfflineServer:
    created: float
    last_end: float

    def units(self, period: float, end: float | None = None) -> int:
        return periods((self.last_end if end is None else end) - self.created, period)


@dataclass
class Schedule:
    """A zero-wait schedule: which server each job ran on, and what it cost."""

    units: int
    servers: int
    assignments: list[Assignment] = field(default_factory=list)
    units_per_server: list[int] = field(default_factory=list)


def clairvoyant(jobs: Sequence[Job], period: float, boot: float) -> Schedule:
    """The clairvoyant (offline greedy) schedule: knowing the whole trace, each server
    is created `boot` before the job that needs it, so no job waits, and deleted when its
    last job ends (billed every started period from creation).

    Jobs in arrival order; each goes to the server, among those free at its arrival,
    whose bill grows least by taking it (0 when it ends in time already paid for),
    unless a new server would cost less (ties keep the existing server); among equal
    existing ones, the one that finished last (so others can be let go).
    """
    servers: list[_OfflineServer] = []
    out: list[Assignment] = []
    for arrival, duration in sorted(jobs):
        end = arrival + duration
        new_cost = periods(duration + boot, period)
        best: tuple[int, float, int] | None = None  # (added cost, -last_end, index)
        for index, server in enumerate(servers):
            if server.last_end > arrival + EPSILON:
                continue  # still busy
            added = server.units(period, end) - server.units(period)
            key = (added, -server.last_end, index)
            if best is None or key < best:
                best = key
        if best is not None and best[0] <= new_cost:
            index = best[2]
            servers[index].last_end = end
        else:
            index = len(servers)
            servers.append(_OfflineServer(created=arrival - boot, last_end=end))
        out.append(Assignment(index, arrival, end))
    per_server = [s.units(period) for s in servers]
    return Schedule(sum(per_server), len(servers), out, per_server)


def lower_bound(jobs: Sequence[Job], period: float, boot: float) -> int:
    """No zero-wait schedule pays less: at least one server per concurrent job (each
    billed at least one period), and all the busy time plus one boot per server, paid in
    whole periods: max(peak, ceil((sum of durations + peak * boot) / period))."""
    if not jobs:
        return 0
    peak = peak_concurrency(jobs)
    busy = sum(d for _, d in jobs)
    return max(peak, math.ceil((busy + peak * boot) / period - EPSILON))
