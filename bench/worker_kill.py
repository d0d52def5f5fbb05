"""Worker killed mid-delete: how soon a lost DELETE is retried, and whether it costs a
billing period.

    .venv/bin/python bench/worker_kill.py [--quick | --full] [--deletes N] [--every S]
        [--period S] [--margin S]

Starts its own stack (bench/harness.py) with three `python worker.py` processes on the
same queues (so another serves while a killed one restarts), and N idle servers
started --every seconds apart, so their deletes come one at a time. DELETE is slowed
(route_latency_ms) so that each is in flight for a few seconds. As each server's
delete_instance attempt starts, the worker running it (the pending activity's worker
identity, `pid@host`) is SIGKILLed and restarted; another worker picks up the retry
once the attempt's heartbeat timeout passes. A delete that began on a worker already
killed counts as lost with it. Reported:

- retry delay per delete: the first DELETE of that instance arriving after the kill,
  minus the kill (p50/max), from the emulator's request log;
- extra billed periods (ledger units beyond one per idle server) with the given margin;
- kills made while no other worker was serving (the retry then waits for a restart).

Sizes: --quick 5 deletes, default and --full 20; 60 s period, 20 s margin, 12 s apart
(about five minutes for 20).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.api.enums.v1 import PendingActivityState  # noqa: E402
from temporalio.client import WorkflowExecutionStatus  # noqa: E402
from temporalio.service import RPCError  # noqa: E402

from bench.harness import (  # noqa: E402
    DELETE_ROUTE,
    BenchStack,
    BenchTimeout,
    StackOptions,
    distribution,
    fmt_dist,
    log,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from devstack.procs import ManagedProcess  # noqa: E402

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"deletes": 5},
    "default": {"deletes": 20},
    "full": {"deletes": 20},
}
DELETE_LATENCY_MS = 3000  # keeps each DELETE in flight long enough to kill its worker


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--deletes", type=int, help="servers, each killed mid-delete")
    parser.add_argument("--every", type=float, default=12.0, help="seconds between starts")
    parser.add_argument("--period", type=int, default=60, help="billing period (s)")
    parser.add_argument("--margin", type=int, default=20, help="terminate before boundary (s)")
    return parser.parse_args()


async def delete_worker(stack: BenchStack, name: str, bound: float) -> tuple[str, str] | None:
    """(instance id, worker identity) once the server's delete_instance attempt starts;
    None if the server finished before one was seen."""
    handle = stack.handle(name)
    give_up = time.monotonic() + bound
    while time.monotonic() < give_up:
        try:
            desc = await handle.describe()
        except RPCError:  # not started yet
            await asyncio.sleep(0.5)
            continue
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return None
        for pending in desc.raw_description.pending_activities:
            started = pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            if started and pending.activity_type.name == "delete_instance":
                status = await stack.status(name)
                return status.instance_id or "", pending.last_worker_identity
        await asyncio.sleep(0.1)
    raise BenchTimeout(f"{name}: no delete_instance attempt started within {bound:.0f} s")


@dataclass
class Kill:
    name: str
    at: float  # epoch seconds
    others_ready: bool  # another worker was serving the queues at the kill


@dataclass
class Killer:
    """Kills the worker running each delete and restarts it in the background."""

    workers: list[ManagedProcess]
    kills: dict[str, Kill] = field(default_factory=dict)  # instance id -> kill
    killed: dict[str, float] = field(default_factory=dict)  # dead identity -> kill time
    restarts: list[asyncio.Task[None]] = field(default_factory=list)
    restarting: set[int] = field(default_factory=set)  # ids of workers being restarted

    def kill(self, name: str, instance: str, identity: str) -> None:
        if identity in self.killed:
            # Its delete began on a worker an earlier kill already took: lost the same way.
            self.kills[instance] = Kill(name, self.killed[identity], others_ready=True)
            log(f"the delete of {name} ({instance}) was lost with {identity} too")
            return
        victim = next((w for w in self.workers if identity.startswith(f"{w.pid}@")), None)
        if victim is None:
            raise BenchTimeout(f"{name}: delete runs on {identity}, not one of our workers")
        ready = any(
            w is not victim and w.running() and id(w) not in self.restarting for w in self.workers
        )
        victim.kill()
        self.killed[identity] = time.time()
        self.kills[instance] = Kill(name, self.killed[identity], ready)
        log(f"killed {identity} during the delete of {name} ({instance}); restarting it")
        self.restarting.add(id(victim))
        self.restarts.append(asyncio.create_task(self._restart(victim)))

    async def _restart(self, worker: ManagedProcess) -> None:
        try:
            await asyncio.to_thread(worker.start, 120.0)
        finally:
            self.restarting.discard(id(worker))


async def kill_each_delete(
    stack: BenchStack, workers: list[ManagedProcess], names: list[str], period: int
) -> dict[str, Kill]:
    """Kill the worker of every server's delete in turn; instance id -> the kill."""
    killer = Killer(workers)
    for name in names:
        seen = await delete_worker(stack, name, 2 * period)
        if seen is None:
            log(f"{name} finished before its delete was seen: not killed")
            continue
        killer.kill(name, *seen)
    await asyncio.gather(*killer.restarts)
    return killer.kills


async def measure(deletes: int, every: float, period: int, margin: int) -> dict[str, Any]:
    options = StackOptions(
        billing_period_seconds=period,
        terminate_before_seconds=margin,
        boot_seconds=2.0,
        rate_limit=1000,
        ready_poll_seconds=1.0,
        max_servers=deletes + 5,
    )
    async with BenchStack(options, "worker-kill") as stack:
        assert stack.worker is not None
        # Three, so that another is serving while a killed one restarts.
        workers = [stack.worker, *[await stack.add_worker(f"worker-{i}") for i in (2, 3)]]
        await stack.emulator.set_faults({"route_latency_ms": {DELETE_ROUTE: DELETE_LATENCY_MS}})
        names = [f"kill-{i:02d}" for i in range(deletes)]
        starting = asyncio.create_task(stack.start_servers(names, per_second=1 / every))
        kills = await kill_each_delete(stack, workers, names, period)
        await starting
        results = await stack.results(names)
        requests = await stack.emulator.requests()
        ledger = await stack.emulator.ledger()
    delays: dict[str, float] = {}
    for instance, kill in kills.items():
        after = [
            r.time
            for r in requests
            if r.route == DELETE_ROUTE and r.instance_id == instance and r.time > kill.at
        ]
        if after:
            delays[kill.name] = min(after) - kill.at
    extra = sum(max(0, int(row["units"]) - 1) for row in ledger)
    states = [getattr(s, "state", type(s).__name__) for s in results.values()]
    return {
        "kills": len(kills),
        "retry_delay_seconds": delays,
        "not_retried": sorted(k.name for k in kills.values() if k.name not in delays),
        "killed_alone": sorted(k.name for k in kills.values() if not k.others_ready),
        "extra_periods": extra,
        "leftovers": sum(row["deleted_at"] is None for row in ledger),
        "states": {str(s): states.count(s) for s in set(states)},
    }


async def run() -> int:
    args = parse_args()
    size, sizes = resolve_size(args, PRESETS)
    n = int(sizes["deletes"])
    if args.margin <= 0 or args.period <= args.margin or args.every <= 0 or n <= 0:
        print("error: need 0 < --margin < --period, --every > 0 and --deletes > 0", file=sys.stderr)
        return 2
    log(f"size {size}: {n} deletes, {args.every:g} s apart, period {args.period} s")
    raw = await measure(n, args.every, args.period, args.margin)
    delays = distribution(list(raw["retry_delay_seconds"].values()))
    print(
        f"\nworker kill — size {size}: three workers, the one running each DELETE SIGKILLed "
        f"mid-call; period {args.period} s, margin {args.margin} s\n"
    )
    print_table(
        (
            "deletes",
            "killed",
            "retry delay p50 / max",
            "not retried",
            "no other worker",
            "extra periods",
            "leaks",
        ),
        [
            (
                n,
                raw["kills"],
                f"{delays['p50']:.1f} / {delays['max']:.1f} s" if delays.get("n") else "-",
                len(raw["not_retried"]),
                len(raw["killed_alone"]),
                raw["extra_periods"],
                raw["leftovers"],
            )
        ],
    )
    print(f"retry delay: {fmt_dist(delays, ' s')}; final states {raw['states']}")
    path = write_results("worker_kill", size, {"args": vars(args), **raw})
    print(f"\nwrote {path}")
    return 0 if raw["extra_periods"] == 0 and not raw["not_retried"] else 1


if __name__ == "__main__":
    run_main(run)
