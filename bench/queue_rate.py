"""What a task queue's activity rate limit dispatches: the rate a worker asks for
(`max_task_queue_activities_per_second`, the worker's per-provider request rate)
against the rate activities actually start, with the dev server's default task-queue
partitions (4) and with one, side by side in one run.

    .venv/bin/python bench/queue_rate.py [--rate 1] [--activities 16]

Two Temporal dev servers start at once (headless, in memory), one with
`matching.numTaskqueueReadPartitions` and `matching.numTaskqueueWritePartitions` at
the server's default 4 and one with them at 1, as the project's dev servers run. On
each, one workflow schedules --activities activities together on a queue whose worker
asks for --rate per second; each activity notes when it started. Prints, per server,
the achieved rate ((n - 1) / (last start - first start)) and the gaps between starts,
and writes JSON to bench/results/. A provider account's rate (Hetzner: 1 request/s)
is only kept near its budget when the achieved rate is near the asked one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from temporalio import activity, workflow  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.worker import UnsandboxedWorkflowRunner, Worker  # noqa: E402

from bench.harness import distribution, log, print_table, write_results  # noqa: E402
from devstack.components import ONE_PARTITION_PER_QUEUE, temporal_process  # noqa: E402
from devstack.procs import ManagedProcess, free_port  # noqa: E402

# The server's default is 4; the project's dev servers run with one.
VARIANTS: dict[str, dict[str, str]] = {
    "4 (the server's default)": {key: "4" for key in ONE_PARTITION_PER_QUEUE},
    "1 (the dev stack's)": ONE_PARTITION_PER_QUEUE,
}
TASK_QUEUE = "rate-probe"


class Stamps:
    """When each activity started, on this process's clock."""

    def __init__(self) -> None:
        self.started: list[float] = []

    @activity.defn(name="stamp")
    async def stamp(self, index: int) -> int:
        self.started.append(time.monotonic())
        return index


@workflow.defn(name="RateProbe")
class RateProbe:
    @workflow.run
    async def run(self, count: int) -> int:
        calls = [
            workflow.execute_activity("stamp", i, start_to_close_timeout=timedelta(seconds=30))
            for i in range(count)
        ]
        return len(await asyncio.gather(*calls))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1.0, help="activities/s the worker asks")
    parser.add_argument("--activities", type=int, default=16, help="scheduled at once")
    args = parser.parse_args()
    if args.rate <= 0 or args.activities < 2:
        parser.error("--rate must be above 0 and --activities at least 2")
    return args


async def probe(address: str, rate: float, count: int) -> list[float]:
    client = await Client.connect(address)
    stamps = Stamps()
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[RateProbe],
        activities=[stamps.stamp],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_task_queue_activities_per_second=rate,
    ):
        await client.execute_workflow(RateProbe.run, count, id="rate-probe", task_queue=TASK_QUEUE)
    return sorted(stamps.started)


def summary(started: list[float], rate: float) -> dict[str, Any]:
    gaps = [b - a for a, b in zip(started, started[1:], strict=False)]
    span = started[-1] - started[0]
    achieved = (len(started) - 1) / span if span > 0 else float("inf")
    return {
        "activities": len(started),
        "asked_per_s": rate,
        "achieved_per_s": achieved,
        "span_seconds": span,
        "gaps_seconds": distribution(gaps),
    }


async def measure(addresses: dict[str, str], rate: float, count: int) -> dict[str, Any]:
    runs = await asyncio.gather(*(probe(a, rate, count) for a in addresses.values()))
    return {name: summary(s, rate) for name, s in zip(addresses, runs, strict=True)}


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-queue-rate-") as tmp:
        servers: list[ManagedProcess] = []
        addresses: dict[str, str] = {}
        try:
            for name, config in VARIANTS.items():
                port = free_port()
                log_path = Path(tmp) / f"partitions-{name.split()[0]}.log"
                server = temporal_process(port, 0, log_path, headless=True, dynamic_config=config)
                servers.append(server)
                server.start(timeout=60)
                addresses[name] = f"127.0.0.1:{port}"
            log(f"{len(servers)} dev servers up; {args.activities} activities at {args.rate:g}/s")
            results = asyncio.run(measure(addresses, args.rate, args.activities))
        finally:
            for server in servers:
                server.stop()

    rows = [
        (
            name,
            f"{r['asked_per_s']:g}",
            f"{r['achieved_per_s']:.2f}",
            f"{r['span_seconds']:.1f}",
            f"{r['gaps_seconds']['p50']:.2f} / {r['gaps_seconds']['max']:.2f}",
        )
        for name, r in results.items()
    ]
    print_table(
        ("task-queue partitions", "asked /s", "started /s", "span s", "gap p50 / max s"),
        rows,
        title=f"\n{args.activities} activities scheduled at once on one queue",
    )
    path = write_results("queue_rate", "default", {"args": vars(args), "results": results})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
