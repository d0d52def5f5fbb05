"""Scale: how many live server workflows one worker process holds, and how quickly a
signal still shows in the state as the number grows.

    .venv/bin/python bench/scale.py [--quick | --full] [--start N] [--budget-seconds S]
                                    [--steps 1000,2000,5000] [--workers N]

Starts its own stack (bench/harness.py) with one `python worker.py` process (or
--workers of them on the same queues and database), then ramps the number of live
servers (start, x2, x4, ..., or the --steps given). At each step it provisions the
new servers, waits until all are READY, records the resident memory (RSS) of the
workers (summed) and of the Temporal dev server, and samples signal-to-state latency on a
random subset of idle servers: the time from sending `mark_busy` until the `status`
query shows EXECUTING (the query is repeated every 10 ms), followed by `mark_idle`.
It also reads the history length of 20 servers of the first step that are never
probed: their growth between steps is what a waiting server adds to Temporal's history.
The ramp stops when p99 exceeds --p99-limit (1 s), when the next step would not fit
the time budget, when a step's provisioning stalls (far slower than the Vultr queue
allows), or at --max-servers. New servers are started at the pace the Vultr queue
can serve (--burst starts a whole step at once). Then every server is terminated at once
(`request_termination`, immediately) and the emulator must show 0 instances left.

The billing period is a day, so no deadline falls inside the ramp; the emulator's
rate limit is high and boot instant, so provisioning is paced by the worker's Vultr
task-queue limit (VULTR_REQUESTS_PER_SECOND, at most 30).
Sizes: --quick from 100 with a 2-minute ramp, default from 200 with 5 minutes,
--full from 500 with 40 minutes (the issue's 500, 1,000, 2,000, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    FINAL_STATES,
    BenchStack,
    BenchTimeout,
    StackOptions,
    bounded_gather,
    distribution,
    log,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from core.models import TaskSignal  # noqa: E402
from core.settings import Settings  # noqa: E402
from workflows.server import ServerWorkflow  # noqa: E402

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"start": 100, "budget_seconds": 120, "samples": 30},
    "default": {"start": 200, "budget_seconds": 300, "samples": 60},
    "full": {"start": 500, "budget_seconds": 2400, "samples": 200},
}
DAY = 86_400
# Quote, look up, create, readiness (instant boot, sometimes polled twice): measured ~4.7.
ACTIVITIES_PER_SERVER = 5
PROBE_TIMEOUT = 30.0
MIB = 1024 * 1024
# Servers of the first step whose history length is read at every step.
HISTORY_SAMPLE = 20


def live_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not counts or counts[0] < 1 or counts != sorted(set(counts)):
        raise argparse.ArgumentTypeError(f"steps must grow from at least 1: {text!r}")
    return counts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--start", type=int, help="live servers at the first step")
    parser.add_argument("--budget-seconds", type=float, help="time for the ramp")
    parser.add_argument("--samples", type=int, help="latency probes per step")
    parser.add_argument("--factor", type=float, default=2.0, help="growth per step")
    parser.add_argument(
        "--steps",
        type=live_counts,
        default=None,
        help="live servers at each step, e.g. 1000,2000,5000 (instead of --start and --factor)",
    )
    parser.add_argument("--max-servers", type=int, default=None, help="stop after this step")
    parser.add_argument("--p99-limit", type=float, default=1.0, help="stop above this p99 (s)")
    parser.add_argument("--probe-concurrency", type=int, default=10)
    parser.add_argument("--vultr-rps", type=float, default=30.0, help="worker Vultr queue req/s")
    parser.add_argument(
        "--burst", action="store_true", help="start each step's servers all at once (unpaced)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--cache",
        type=int,
        default=None,
        help="WORKER_MAX_CACHED_WORKFLOWS of each worker (the worker's default if not given)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.cache is not None and args.cache < 1:
        parser.error(f"--cache must be at least 1, got {args.cache}")
    return args


async def probe(stack: BenchStack, name: str, task_id: str) -> dict[str, float]:
    """Signal mark_busy, poll the state until EXECUTING, then mark idle again."""
    handle = stack.handle(name)
    started = time.perf_counter()
    await handle.signal(ServerWorkflow.mark_busy, TaskSignal(task_id=task_id))
    signalled = time.perf_counter()
    polls = 0
    while True:
        polls += 1
        status = await handle.query(ServerWorkflow.status)
        if status.state == "EXECUTING":
            break
        if time.perf_counter() - started > PROBE_TIMEOUT:
            break
        await asyncio.sleep(0.01)
    seen = time.perf_counter()
    await handle.signal(ServerWorkflow.mark_idle, TaskSignal(task_id=task_id))
    return {"latency": seen - started, "signal_rpc": signalled - started, "polls": polls}


def workers_rss(stack: BenchStack) -> int:
    return sum(stack.rss_bytes(worker) for worker in stack.workers)


async def run() -> int:
    args = parse_args()
    size, sizes = resolve_size(args, PRESETS)
    start, budget, samples = (
        int(sizes["start"]),
        float(sizes["budget_seconds"]),
        int(sizes["samples"]),
    )
    # The account quota admits the largest step (the harness's default is 2,000).
    largest = max(args.steps) if args.steps else (args.max_servers or 10_000)
    options = StackOptions(
        max_servers=max(largest, 2_000),
        billing_period_seconds=DAY,
        terminate_before_seconds=60,
        boot_seconds=0,
        rate_limit=1000,
        vultr_requests_per_second=args.vultr_rps,
        ready_poll_seconds=1.0,
        seed=args.seed,
        workers=args.workers,
        worker_max_cached_workflows=args.cache,
    )
    rng = random.Random(args.seed)
    steps: list[dict[str, Any]] = []
    live: list[str] = []
    stop_reason = "max servers reached"
    # The live counts to step through: the given ones, or start x factor up to the max.
    planned = iter(args.steps or [])
    if args.steps:
        start = next(planned)
        log(f"size {size}: ramp through {args.steps}, budget {budget:.0f} s")
    else:
        log(f"size {size}: ramp from {start} x{args.factor:g}, budget {budget:.0f} s")
    async with BenchStack(options, "scale") as stack:
        began = time.monotonic()
        await asyncio.sleep(3)
        steps.append(
            {
                "live": 0,
                "worker_rss_mib": workers_rss(stack) / MIB,
                "temporal_rss_mib": stack.rss_bytes(stack.temporal) / MIB,
            }
        )
        target = start
        stalled = False
        sampled: list[str] = []
        last_events: tuple[float, float] | None = None
        # Paced at what the Vultr queue can serve anyway, so that the account quota
        # lease is not hit by a whole step at once (--burst does that).
        pace = None if args.burst else args.vultr_rps / ACTIVITIES_PER_SERVER
        while True:
            new = target - len(live)
            estimate = new * ACTIVITIES_PER_SERVER / args.vultr_rps * 1.2 + 20
            spent = time.monotonic() - began
            if live and spent + estimate > budget:
                stop_reason = f"time budget: the step to {target} would need ~{estimate:.0f} s"
                break
            names = [f"scale-{i:05d}" for i in range(len(live), target)]
            live += names
            t = time.monotonic()
            await stack.start_servers(names, concurrency=64, per_second=pace)
            try:
                await stack.wait_for_states(names, {"READY"}, estimate + 60, f"step {target}")
            except BenchTimeout as exc:
                stop_reason = f"provisioning stalled: {exc}"
                stalled = True
                docs = await stack.read_model(only=names)
                steps.append(
                    {
                        "live": len(live),
                        "stalled": True,
                        "ready_of_step": sum(d["state"] == "READY" for d in docs.values()),
                        "step_size": new,
                        "waited_seconds": time.monotonic() - t,
                        "worker_rss_mib": workers_rss(stack) / MIB,
                        "temporal_rss_mib": stack.rss_bytes(stack.temporal) / MIB,
                    }
                )
                break
            provisioned = time.monotonic() - t
            await asyncio.sleep(5)  # the READY transitions' record activities finish
            docs = await stack.read_model()
            # A fixed sample of the first step is never probed: its history growth between
            # steps is what a waiting server costs Temporal while the fleet grows.
            sampled = sampled or live[:HISTORY_SAMPLE]
            idle = [n for n in live if docs[n]["state"] in ("READY", "IDLE") and n not in sampled]
            chosen = rng.sample(idle, min(samples, len(idle)))
            log(f"step {target}: provisioned in {provisioned:.0f} s; probing {len(chosen)}")
            t = time.monotonic()
            probes = await bounded_gather(
                (probe(stack, n, f"probe-{target}-{i}") for i, n in enumerate(chosen)),
                args.probe_concurrency,
            )
            probe_seconds = time.monotonic() - t
            latency = distribution([p["latency"] for p in probes])
            step = {
                "live": len(live),
                "provision_seconds": provisioned,
                "provision_rate_per_s": new / provisioned,
                "worker_rss_mib": workers_rss(stack) / MIB,
                "temporal_rss_mib": stack.rss_bytes(stack.temporal) / MIB,
                "latency_seconds": latency,
                "signal_rpc_seconds": distribution([p["signal_rpc"] for p in probes]),
                "query_polls": distribution([p["polls"] for p in probes]),
                "timeouts": sum(p["latency"] > PROBE_TIMEOUT for p in probes),
                "probe_seconds": probe_seconds,
            }
            lengths = await stack.histories(sampled)
            events = sum(len(h) for h in lengths.values()) / len(sampled)
            now = time.monotonic()
            if last_events is not None:
                grown, hours = events - last_events[0], (now - last_events[1]) / 3600
                step["history_events_per_server_hour"] = grown / hours
            step["history_events_per_server"] = events
            last_events = (events, now)
            steps.append(step)
            log(
                f"step {len(live)}: p50 {latency['p50'] * 1000:.0f} ms, p99 "
                f"{latency['p99'] * 1000:.0f} ms, worker RSS {step['worker_rss_mib']:.0f} MiB"
            )
            if latency["p99"] > args.p99_limit:
                stop_reason = f"p99 {latency['p99']:.2f} s above {args.p99_limit:g} s"
                break
            if args.steps:
                target = next(planned, 0)
                if not target:
                    break
                continue
            target = int(target * args.factor)
            if args.max_servers and target > args.max_servers:
                break
        ramp_seconds = time.monotonic() - began

        log(f"ramp over ({stop_reason}); terminating all {len(live)} servers immediately")
        t = time.monotonic()
        await stack.terminate_now(live)
        timeout = len(live) * 3 / args.vultr_rps * 3 + 300
        failed_to_finish = ""
        try:
            await stack.wait_for_states(live, FINAL_STATES, timeout, "terminated")
        except BenchTimeout as exc:
            failed_to_finish = str(exc)
        termination_seconds = time.monotonic() - t
        docs = await stack.read_model()
        errors = sum(docs.get(n, {}).get("state") == "ERROR" for n in live)
        ledger = await stack.emulator.ledger()
        left = sum(row["deleted_at"] is None for row in ledger)
        worker_log = stack.worker_log_counts()

    ramp = f"ramp through {args.steps}" if args.steps else f"ramp from {start} x{args.factor:g}"
    print(
        f"\nscale — size {size}: {args.workers} worker process(es); {ramp}, "
        f"budget {budget:.0f} s, {samples} probes per step "
        f"({args.probe_concurrency} at a time), billing period {DAY} s, "
        f"Vultr queue {args.vultr_rps:g} req/s, instant boot, workflow cache "
        f"{args.cache or Settings.model_fields['worker_max_cached_workflows'].default}\n"
    )
    rows = []
    for s in steps:
        if not s["live"]:
            rows.append(
                (
                    0,
                    "-",
                    "-",
                    f"{s['worker_rss_mib']:.0f}",
                    f"{s['temporal_rss_mib']:.0f}",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                )
            )
            continue
        if s.get("stalled"):
            rows.append(
                (
                    s["live"],
                    f"stalled: {s['ready_of_step']}/{s['step_size']} READY after "
                    f"{s['waited_seconds']:.0f} s",
                    "-",
                    f"{s['worker_rss_mib']:.0f}",
                    f"{s['temporal_rss_mib']:.0f}",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                )
            )
            continue
        lat, rpc = s["latency_seconds"], s["signal_rpc_seconds"]
        rows.append(
            (
                s["live"],
                f"{s['provision_seconds']:.0f} s",
                f"{s['provision_rate_per_s']:.1f}",
                f"{s['worker_rss_mib']:.0f}",
                f"{s['temporal_rss_mib']:.0f}",
                f"{lat['p50'] * 1000:.0f} / {lat['p99'] * 1000:.0f} / {lat['max'] * 1000:.0f}",
                f"{rpc['p50'] * 1000:.0f}",
                f"{lat['n']} ({s['timeouts']} timed out)",
                f"{s['history_events_per_server']:.0f}",
                f"{s['history_events_per_server_hour']:.0f}"
                if "history_events_per_server_hour" in s
                else "-",
            )
        )
    print_table(
        (
            "live servers",
            "step provisioned in",
            "servers/s",
            "worker RSS MiB",
            "Temporal RSS MiB",
            "signal -> EXECUTING p50/p99/max ms",
            "signal RPC p50 ms",
            "probes",
            f"history events/server ({HISTORY_SAMPLE} unprobed of step 1)",
            "their growth per server-hour since the last step",
        ),
        rows,
    )
    print(f"ramp stopped: {stop_reason}; ramp took {ramp_seconds:.0f} s")
    print(
        f"termination of {len(live)} servers: {termination_seconds:.0f} s, "
        f"{errors} in ERROR, instances left at Vultr: {left}"
        + (f"\n  {failed_to_finish}" if failed_to_finish else "")
    )
    path = write_results(
        "scale",
        size,
        {
            "args": vars(args),
            "steps": steps,
            "stop_reason": stop_reason,
            "ramp_seconds": ramp_seconds,
            "stalled": stalled,
            "termination_seconds": termination_seconds,
            "servers_in_error": errors,
            "instances_left": left,
            "worker_log": worker_log,
        },
    )
    print(f"\nwrote {path}")
    return 0 if left == 0 and not errors and not failed_to_finish and not stalled else 1


if __name__ == "__main__":
    run_main(run)
