"""Several workers: the same fleet served by 1 and by 3 `python worker.py` processes.

    .venv/bin/python bench/workers.py [--quick | --full] [--servers N] [--counts 1,3]

For each worker count it starts its own stack (bench/harness.py) with that many worker
processes on one task queue and one database, starts N servers at the pace the Vultr
queue serves (limit / 5 a second, `--start-rate`), waits until all are READY, then
terminates them all at once and waits until all are TERMINATED. Reports side by side:
provision latency (workflow start to READY) p50/p99, time until all READY, time from
the terminate request until all TERMINATED, and the busiest 1 s and 5 s windows of
requests at the emulator against the Vultr queue's limit (VULTR_REQUESTS_PER_SECOND,
set alike on every worker: the Temporal server enforces it for the queue, so more
workers must not raise it). Instances left, servers not TERMINATED and duplicate
instances are counted too.

The emulator boots in 2 s and never answers 429, so the queue's limit is what paces
the fleet. A catalog load (each worker's first quote) is three listings on the
catalog queue, outside the limit, so the busiest second is shown for all requests and
for instance calls alone, beside the busiest 5 s average.

Sizes: --quick 30 servers, default 60, --full 200. At 200 servers (quota 200) on
SecantusDB every quota acquire timed out (`ambiguous acquire ... NetworkTimeout`), at
once or paced, and none was READY after 3 minutes: the full size needs a real mongod
(MONGO_URI) until that is fixed. The default takes about 5 minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    FINAL_STATES,
    BenchStack,
    StackOptions,
    distribution,
    log,
    peak_in_window,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from core.models import ServerStatus  # noqa: E402

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"servers": 30},
    "default": {"servers": 60},
    "full": {"servers": 200},
}
DAY = 86_400  # no deadline falls inside a run: termination is requested
BOOT = 2.0
CALLS_PER_SERVER = 7  # look up, create, readiness (x1-3), delete, confirm
PROVISION_CALLS = 5  # of which before READY (bench/scale.py measured ~4.7)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--servers", type=int, help="servers requested at once")
    parser.add_argument("--counts", default="1,3", help="worker process counts to compare")
    parser.add_argument("--vultr-rps", type=float, default=25.0, help="Vultr queue limit (req/s)")
    parser.add_argument("--ready-poll", type=float, default=1.0, help="readiness poll (s)")
    parser.add_argument(
        "--start-rate",
        type=float,
        default=None,
        help="servers started a second (default: the pace the Vultr queue serves)",
    )
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def entered(status: ServerStatus, state: str) -> float | None:
    return next((e.at.timestamp() for e in status.timeline if e.state == state), None)


def start_rate(args: argparse.Namespace) -> float:
    return args.start_rate or args.vultr_rps / PROVISION_CALLS


async def one_run(workers: int, n: int, args: argparse.Namespace) -> dict[str, Any]:
    options = StackOptions(
        billing_period_seconds=DAY,
        terminate_before_seconds=60,
        boot_seconds=BOOT,
        rate_limit=0,
        vultr_requests_per_second=args.vultr_rps,
        max_servers=n,
        ready_poll_seconds=args.ready_poll,
        seed=args.seed,
        workers=workers,
    )
    names = [f"w{workers}-{i:04d}" for i in range(n)]
    # Twice the pace the queue allows, plus start-up slack: finite, never hit normally.
    bound = 2 * n * CALLS_PER_SERVER / args.vultr_rps + 120
    async with BenchStack(options, f"workers-{workers}") as stack:
        log(f"{workers} worker(s): starting {n} servers")
        t0 = time.time()
        await stack.start_servers(names, per_second=start_rate(args))
        ready_after = {"READY", "EXECUTING", "IDLE", "TERMINATING", *FINAL_STATES}
        all_ready = await stack.wait_for_states(names, ready_after, bound, "provisioned")
        log(f"{workers} worker(s): all READY; terminating them all at once")
        t1 = time.monotonic()
        await stack.terminate_now(names)
        await stack.wait_for_states(names, FINAL_STATES, bound, "terminated")
        all_terminated = time.monotonic() - t1
        results = await stack.results(names)
        requests = [r for r in await stack.emulator.requests() if r.time >= t0 - 1]
        ledger = await stack.emulator.ledger()
        worker_log = stack.worker_log_counts()
    statuses = [s for s in results.values() if isinstance(s, ServerStatus)]
    # The timeline opens with PROVISIONING at the workflow's start.
    provision = [
        ready - started
        for s in statuses
        if (ready := entered(s, "READY")) is not None
        and (started := entered(s, "PROVISIONING")) is not None
    ]
    times = [r.time for r in requests]
    # A catalog load (each worker's first quote) is three listings outside the queue's limit.
    instance_times = [r.time for r in requests if "/instances" in r.path]
    labels = Counter(row["label"] for row in ledger)
    return {
        "workers": workers,
        "servers": n,
        "provision_seconds": distribution(provision),
        "all_ready_seconds": all_ready,
        "all_terminated_seconds": all_terminated,
        "requests": len(requests),
        "peak_1s": peak_in_window(times, 1.0),
        "peak_5s_per_second": peak_in_window(times, 5.0) / 5,
        "peak_1s_instance_calls": peak_in_window(instance_times, 1.0),
        "429s": sum(r.status == 429 for r in requests),
        "not_terminated": sum(s.state != "TERMINATED" for s in statuses) + (n - len(statuses)),
        "instances_left": sum(row["deleted_at"] is None for row in ledger),
        "duplicates": sum(c - 1 for c in labels.values()),
        "worker_log": worker_log,
    }


async def run() -> int:
    args = parse_args()
    size, sizes = resolve_size(args, PRESETS)
    n = int(sizes["servers"])
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    runs = [await one_run(count, n, args) for count in counts]

    print(
        f"\nworkers — size {size}: {n} servers started at {start_rate(args):g}/s, {BOOT:g} s boot, "
        f"Vultr queue limit {args.vultr_rps:g} req/s on every worker, quota {n}\n"
    )
    print_table(
        (
            "workers",
            "provision p50 / p99",
            "all READY",
            "all TERMINATED",
            "requests",
            "peak 1 s",
            "peak 5 s avg",
            "peak 1 s, instance calls",
            "limit",
            "not terminated / left / duplicates",
        ),
        [
            (
                r["workers"],
                f"{r['provision_seconds']['p50']:.1f} / {r['provision_seconds']['p99']:.1f} s",
                f"{r['all_ready_seconds']:.0f} s",
                f"{r['all_terminated_seconds']:.0f} s",
                r["requests"],
                f"{r['peak_1s']} req/s",
                f"{r['peak_5s_per_second']:.1f} req/s",
                f"{r['peak_1s_instance_calls']} req/s",
                f"{args.vultr_rps:g} req/s",
                f"{r['not_terminated']} / {r['instances_left']} / {r['duplicates']}",
            )
            for r in runs
        ],
    )
    path = write_results("workers", size, {"args": vars(args), "runs": runs})
    print(f"\nwrote {path}")
    ok = all(
        r["not_terminated"] == 0 and r["instances_left"] == 0 and r["duplicates"] == 0 for r in runs
    )
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(run)
