"""Termination precision: how close to the billing boundary servers are deleted, and
whether any hour is billed that the policy did not intend.

    .venv/bin/python bench/termination_precision.py [--quick | --full] [--servers K]
        [--period S] [--seed N] [--no-faults]

Starts its own stack (bench/harness.py) and runs K server lifecycles, each with a random
busy/idle trace drawn from --seed: up to three tasks one after another, each marked
busy, then idle, with durations and gaps in fractions of the billing period. Trace
events are placed at least --guard seconds away from every termination deadline, so
the policy's outcome does not depend on which side of a deadline a signal lands.

For each server the policy's intended end is simulated from the trace, its READY time
and its billing start: the first deadline (boundary - margin) after READY at which no
task is running; the intended bill is the number of periods started by then. Measured
from the emulator: the bill (ledger units), billing start (ledger created_at) and
delete time (the successful DELETE in the request log, plus any injected latency,
since the ledger's deleted_at is shown to the second). Reported:

- slack = intended boundary - delete time (min/p50/p99/max); negative means late;
- extra billed hours = ledger units - intended units (target 0), and servers billed
  less than intended (deleted while busy: must be 0);
- where the time between deadline and deletion went.

A second run repeats this with DELETE latency (route_latency_ms) and 5xx faults: a
steady share of failing DELETEs, and outages in which every route answers 503 for a
couple of seconds, every few seconds; all installed with POST /admin/faults.

Sizes: --quick 30 lifecycles / 20 s period, default 150 / 30 s, --full 1000 / 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.service import RPCError  # noqa: E402

from bench.harness import (  # noqa: E402
    AMBIGUOUS_READY_SECONDS,
    DELETE_ROUTE,
    FINAL_STATES,
    BenchStack,
    BenchTimeout,
    StackOptions,
    compact_history,
    deletions,
    distribution,
    first_deadline_units,
    fmt_dist,
    fmt_shares,
    histogram_shares,
    log,
    parse_time,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from core.models import ServerStatus  # noqa: E402

WFT_QUEUED = "temporal_workflow_task_schedule_to_start_latency"
HISTORIES_KEPT = 8
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"servers": 30, "period": 20},
    "default": {"servers": 150, "period": 30},
    "full": {"servers": 1000, "period": 60},
}


# --------------------------------------------------------------------------- traces


@dataclass(frozen=True)
class TraceStep:
    offset: float  # seconds after the anchor (READY as seen by the driver)
    busy: bool  # mark_busy, else mark_idle
    task_id: str


def make_trace(seed: int, index: int, period: float, max_span: float) -> list[TraceStep]:
    """Up to three tasks, one after another; deterministic for (seed, index)."""
    rng = random.Random(f"{seed}:{index}")
    steps: list[TraceStep] = []
    at = rng.uniform(0.05, 0.5) * period
    for task in range(rng.choice([0, 1, 1, 2, 2, 3])):
        end = at + rng.uniform(0.2, 1.2) * period
        if end > max_span * period:
            break
        steps.append(TraceStep(at, True, f"job-{index}-{task}"))
        steps.append(TraceStep(end, False, f"job-{index}-{task}"))
        at = end + rng.uniform(0.1, 0.6) * period
    return steps


@dataclass
class Plan:
    """A trace placed on the clock, and what the policy should do with it."""

    events: list[tuple[float, TraceStep]]
    first_deadline_index: int
    intended_units: int
    ambiguous: bool

    def deadline(self, billing_start: float, period: float, margin: float) -> float:
        return billing_start + self.intended_units * period - margin


def place(
    trace: list[TraceStep],
    anchor: float,
    billing_start: float,
    ready_at: float,
    period: float,
    margin: float,
    guard: float,
) -> Plan:
    events: list[tuple[float, TraceStep]] = []
    shift, previous = 0.0, anchor
    for step in trace:
        at = max(anchor + step.offset + shift, previous + 0.5)
        k = round((at - billing_start + margin) / period)
        nearest = billing_start + k * period - margin
        if abs(at - nearest) < guard:
            moved = nearest + guard
            shift += moved - at
            at = moved
        events.append((at, step))
        previous = at
    busy = [(events[i][0], events[i + 1][0]) for i in range(0, len(events), 2)]
    first, ambiguous = first_deadline_units(billing_start, ready_at, period, margin)
    k = first
    while any(s < billing_start + k * period - margin < e for s, e in busy):
        k += 1
    return Plan(events, first, k, ambiguous)


# --------------------------------------------------------------------------- driving


@dataclass
class Driven:
    plan: Plan | None = None
    sent: int = 0
    refused: list[str] = field(default_factory=list)
    # (planned, sent, acknowledged, busy) per signal: epoch seconds, for off-target reports
    log: list[tuple[float, float, float, bool]] = field(default_factory=list)


async def watch_ready(
    stack: BenchStack, names: list[str], found: dict[str, asyncio.Future[tuple[float, float]]]
) -> None:
    """Resolve each server's future with (billing start, READY time) once it has them."""
    while pending := [n for n, f in found.items() if not f.done()]:
        for name, doc in (await stack.read_model(only=pending)).items():
            future = found.get(name)
            if future is None or future.done() or doc.get("billing_start") is None:
                continue
            ready = [e["at"] for e in doc.get("timeline", []) if e["state"] == "READY"]
            if ready:
                future.set_result((doc["billing_start"].timestamp(), ready[0].timestamp()))
        await asyncio.sleep(0.5)


async def drive(
    stack: BenchStack,
    name: str,
    trace: list[TraceStep],
    ready: asyncio.Future[tuple[float, float]],
    args: argparse.Namespace,
    period: float,
) -> Driven:
    billing_start, ready_at = await ready
    plan = place(
        trace, max(time.time(), ready_at), billing_start, ready_at, period, args.margin, args.guard
    )
    driven = Driven(plan)
    end = plan.deadline(billing_start, period, args.margin)
    for at, step in plan.events:
        if at >= end:
            break  # the server is meant to be gone by then
        await asyncio.sleep(max(0.0, at - time.time()))
        sent = time.time()
        try:
            if step.busy:
                await stack.signal_busy(name, step.task_id)
            else:
                await stack.signal_idle(name, step.task_id)
            driven.sent += 1
            driven.log.append((at, sent, time.time(), step.busy))
        except RPCError as exc:
            driven.refused.append(f"{step.task_id} {'busy' if step.busy else 'idle'}: {exc}")
            break
    return driven


async def inject_bursts(stack: BenchStack, base: dict[str, Any], args: argparse.Namespace) -> None:
    """Every --burst-every seconds, every request on any route gets 503 for --burst-seconds."""
    outage = {"route": "*", "status": 503}  # neither rate nor count: every request fails
    while True:
        await asyncio.sleep(args.burst_every)
        await stack.emulator.set_faults({**base, "rules": [outage, *base["rules"]]})
        await asyncio.sleep(args.burst_seconds)
        await stack.emulator.set_faults(base)


# --------------------------------------------------------------------------- one run


async def run_once(
    stack: BenchStack,
    label: str,
    k: int,
    period: int,
    args: argparse.Namespace,
    faults: dict[str, Any] | None,
) -> dict[str, Any]:
    names = [f"tp{label}-{i:04d}" for i in range(k)]
    traces = [make_trace(args.seed, i, period, args.max_span) for i in range(k)]
    latency = (faults or {}).get("route_latency_ms", {}).get(DELETE_ROUTE, 0.0) / 1000
    loop = asyncio.get_running_loop()
    found = {n: loop.create_future() for n in names}
    t0 = time.time()
    wft_before = await stack.worker_histogram(WFT_QUEUED, stack.TASK_QUEUE)
    burster = None
    if faults:
        await stack.emulator.set_faults(faults)
        burster = asyncio.create_task(inject_bursts(stack, faults, args))
    await stack.start_servers(names)
    log(f"run {label!r}: {k} servers started with their traces")
    watcher = asyncio.create_task(watch_ready(stack, names, found))
    drivers = [
        asyncio.create_task(drive(stack, n, t, found[n], args, period))
        for n, t in zip(names, traces, strict=True)
    ]
    timeout = k * 8 / stack.options.vultr_requests_per_second + (args.max_span + 3) * period + 300
    try:
        await stack.wait_for_states(names, FINAL_STATES, timeout, f"run {label!r} finished")
    except BenchTimeout as exc:
        log(f"{exc}; reporting the servers that finished")
    finally:
        tasks = [t for t in (watcher, burster, *drivers) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if faults:
            await stack.emulator.clear_faults()
    driven = {
        n: d.result() if not d.cancelled() and d.exception() is None else Driven()
        for n, d in zip(names, drivers, strict=True)
    }
    docs = await stack.read_model()
    finished = [n for n in names if docs.get(n, {}).get("state") in FINAL_STATES]
    results: dict[str, Any] = {
        n: f"stuck in {docs.get(n, {}).get('state', 'NOT STARTED')}" for n in names
    }
    results.update(await stack.results(finished))
    ledger = {row["label"]: row for row in await stack.emulator.ledger()}
    requests = [r for r in await stack.emulator.requests() if r.time >= t0 - 1]
    wft = histogram_shares(wft_before, await stack.worker_histogram(WFT_QUEUED, stack.TASK_QUEUE))
    out = analyse(label, names, traces, driven, results, ledger, requests, period, args, latency)
    out["workflow_task_schedule_to_start"] = wft
    # The histories of the worst cases, to see why they went off target.
    worst = sorted(
        out["off_target"],
        key=lambda o: (o["billed_units"] >= o["intended_units"], -abs(o["slack"])),
    )[:HISTORIES_KEPT]
    for o in worst:
        start = o["billing_start"]
        o["history"] = compact_history(await stack.history(o["name"]), start)
    return out


def analyse(
    label: str,
    names: list[str],
    traces: list[list[TraceStep]],
    driven: dict[str, Driven],
    results: dict[str, Any],
    ledger: dict[str, dict[str, Any]],
    requests: list[Any],
    period: int,
    args: argparse.Namespace,
    latency: float,
) -> dict[str, Any]:
    deletes = deletions(requests, latency)
    slack, lag, noticed, to_delete, deleting = [], [], [], [], []
    extra, under, ambiguous, failed, mismatched_bill, ledger_gap = 0, 0, 0, [], 0, 0
    intended_total = billed_total = 0
    attempts: Counter[int] = Counter()
    late: list[dict[str, Any]] = []
    for name in names:
        status, plan = results[name], driven[name].plan
        if not isinstance(status, ServerStatus) or status.state != "TERMINATED" or plan is None:
            failed.append(f"{name}: {getattr(status, 'state', status)}")
            continue
        row = ledger[status.workflow_id]
        start = parse_time(row["created_at"])
        assert start is not None
        intended = plan.intended_units
        if plan.ambiguous and row["units"] == intended + 1:
            intended += 1  # READY a moment before a deadline: the next one is also right
        if plan.ambiguous:
            ambiguous += 1
        tries = deletes.get(status.instance_id or "")
        if tries is None or tries.deleted is None:
            failed.append(f"{name}: no successful DELETE in the request log")
            continue
        deleted = tries.deleted
        if abs(deleted - (parse_time(row["deleted_at"]) or 0) - 0.5) > 1.5:
            ledger_gap += 1
        boundary = start + intended * period
        deadline = boundary - args.margin
        slack.append(boundary - deleted)
        lag.append(deleted - deadline)
        going = next(e.at.timestamp() for e in status.timeline if e.state == "TERMINATING")
        noticed.append(going - deadline)
        to_delete.append(tries.first_attempt - going)
        deleting.append(deleted - tries.first_attempt)
        attempts[tries.attempts] += 1
        diff = int(row["units"]) - intended
        extra += max(0, diff)
        under += diff < 0
        intended_total += intended
        billed_total += int(row["units"])
        mismatched_bill += status.billed_hours != int(row["units"])
        if diff:
            late.append(
                {
                    "name": name,
                    "billing_start": start,
                    # Times below are seconds after the billing start.
                    "ready": plan_ready(status) - start,
                    "first_deadline_units": plan.first_deadline_index,
                    "signals_planned_sent_acked_busy": [
                        (round(p - start, 2), round(s - start, 2), round(a - start, 2), b)
                        for p, s, a, b in driven[name].log
                    ],
                    "timeline": [
                        (e.state.value, round(e.at.timestamp() - start, 2), e.reason)
                        for e in status.timeline
                    ],
                    "intended_units": intended,
                    "billed_units": row["units"],
                    "slack": boundary - deleted,
                    "delete_attempts": tries.attempts,
                    "noticed_after_deadline": going - deadline,
                    "terminating_to_first_delete": tries.first_attempt - going,
                }
            )
    faults = Counter(r.route_name for r in requests if r.status >= 500)
    return {
        "run": label,
        "servers": len(names),
        "terminated": len(slack),
        "failed": failed,
        "ambiguous_ready": ambiguous,
        "tasks_per_server": distribution([len(t) / 2 for t in traces]),
        "signals_sent": sum(d.sent for d in driven.values()),
        "signals_refused": [x for d in driven.values() for x in d.refused],
        "intended_hours": intended_total,
        "billed_hours": billed_total,
        "extra_billed_hours": extra,
        "servers_billed_less_than_intended": under,
        "product_bill_differs_from_ledger": mismatched_bill,
        "ledger_deleted_at_differs": ledger_gap,
        "slack_seconds": distribution(slack),
        "lag_after_deadline_seconds": distribution(lag),
        "deadline_to_terminating_seconds": distribution(noticed),
        "terminating_to_first_delete_seconds": distribution(to_delete),
        "first_delete_to_deleted_seconds": distribution(deleting),
        "delete_attempts": dict(sorted(attempts.items())),
        "responses_5xx_by_route": dict(faults),
        "responses_429": sum(r.status == 429 for r in requests),
        "off_target": late,
    }


def plan_ready(status: ServerStatus) -> float:
    return next(e.at.timestamp() for e in status.timeline if e.state == "READY")


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--servers", type=int, help="lifecycles per run")
    parser.add_argument("--period", type=int, help="billing period (s)")
    parser.add_argument("--margin", type=int, default=5, help="terminate before boundary (s)")
    parser.add_argument(
        "--guard", type=float, default=3.0, help="keep signals this far from deadlines (s)"
    )
    parser.add_argument("--max-span", type=float, default=3.5, help="trace length cap (periods)")
    parser.add_argument("--boot-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument("--no-faults", action="store_true", help="skip the run with faults")
    runs.add_argument("--faults-only", action="store_true", help="only the run with faults")
    parser.add_argument("--delete-latency-ms", type=float, default=2000.0)
    parser.add_argument(
        "--delete-5xx-rate", type=float, default=0.1, help="share of DELETEs failing"
    )
    parser.add_argument(
        "--burst-every", type=float, default=20.0, help="seconds between 503 bursts"
    )
    parser.add_argument("--burst-seconds", type=float, default=2.0, help="length of each burst")
    return parser.parse_args()


async def run() -> int:
    args = parse_args()
    size, sizes = resolve_size(args, PRESETS)
    k, period = int(sizes["servers"]), int(sizes["period"])
    options = StackOptions(
        billing_period_seconds=period,
        terminate_before_seconds=args.margin,
        boot_seconds=args.boot_seconds,
        ready_poll_seconds=1.0,
        seed=args.seed,
    )
    faults = {
        "route_latency_ms": {DELETE_ROUTE: args.delete_latency_ms},
        "rules": [{"route": DELETE_ROUTE, "status": 500, "rate": args.delete_5xx_rate}],
    }
    log(f"size {size}: {k} lifecycles per run, billing period {period} s")
    runs = []
    async with BenchStack(options, "termination-precision") as stack:
        if not args.faults_only:
            runs.append(await run_once(stack, "0", k, period, args, None))
        if not args.no_faults:
            runs.append(await run_once(stack, "1", k, period, args, faults))
        left = [row for row in await stack.emulator.ledger() if row["deleted_at"] is None]
        worker_log = stack.worker_log_counts()

    titles = [] if args.faults_only else ["no faults"]
    if not args.no_faults:
        titles.append(
            f"DELETE +{args.delete_latency_ms:g} ms, {args.delete_5xx_rate:.0%} DELETE 500s, "
            f"503 bursts {args.burst_seconds:g} s every {args.burst_every:g} s"
        )
    print(
        f"\ntermination precision — size {size}: {k} lifecycles per run, billing period "
        f"{period} s, margin {args.margin} s, seed {args.seed}, signals kept {args.guard:g} s "
        f"from deadlines\n"
    )
    rows = []
    for title, r in zip(titles, runs, strict=True):
        rows.append(
            (
                title,
                f"{r['terminated']}/{r['servers']}",
                fmt_dist(r["slack_seconds"], " s"),
                f"{r['intended_hours']} / {r['billed_hours']}",
                r["extra_billed_hours"],
                r["servers_billed_less_than_intended"],
                len(r["failed"]),
            )
        )
    print_table(
        (
            "run",
            "terminated",
            "slack: boundary - delete, min/p50/p99/max",
            "intended / billed hours",
            "extra billed hours",
            "deleted while busy",
            "failed",
        ),
        rows,
    )
    phase_rows = []
    for title, r in zip(titles, runs, strict=True):
        phase_rows.append(
            (
                title.split(",")[0],
                fmt_dist(r["deadline_to_terminating_seconds"], " s"),
                fmt_dist(r["terminating_to_first_delete_seconds"], " s"),
                fmt_dist(r["first_delete_to_deleted_seconds"], " s"),
                r["delete_attempts"],
                sum(r["responses_5xx_by_route"].values()),
                fmt_shares(r["workflow_task_schedule_to_start"]),
            )
        )
    print_table(
        (
            "run",
            "deadline -> TERMINATING",
            "TERMINATING -> first DELETE",
            "first DELETE -> deleted",
            "DELETE attempts: servers",
            "5xx seen",
            "workflow tasks queued (worker lag)",
        ),
        phase_rows,
        "where the time went (min/p50/p99/max)",
    )
    for title, r in zip(titles, runs, strict=True):
        print(
            f"{title}: {r['ambiguous_ready']} READY within {AMBIGUOUS_READY_SECONDS:g} s of a "
            f"deadline (either bill accepted); product bill != ledger: "
            f"{r['product_bill_differs_from_ledger']}; signals sent {r['signals_sent']}, "
            f"refused {len(r['signals_refused'])}; 429s {r['responses_429']}"
        )
        under = [o for o in r["off_target"] if o["billed_units"] < o["intended_units"]]
        over = [o for o in r["off_target"] if o["billed_units"] > o["intended_units"]]
        for item in under:
            print("   billed less than intended (deleted while busy?):", item)
        if over:
            examples = ", ".join(
                f"{o['name']} {o['slack']:.1f} s after {o['delete_attempts']} DELETE(s)"
                for o in over[:3]
            )
            print(f"   deleted after the intended boundary: {len(over)} servers, e.g. {examples}")
        for item in r["failed"][:5]:
            print("   failed:", item)
    print(f"instances left at Vultr: {len(left)}")
    path = write_results(
        "termination_precision",
        size,
        {
            "args": vars(args),
            "period": period,
            "runs": runs,
            "instances_left": len(left),
            "worker_log": worker_log,
        },
    )
    print(f"\nwrote {path}")
    ok = not left and all(
        not r["failed"] and not r["servers_billed_less_than_intended"] for r in runs
    )
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(run)
