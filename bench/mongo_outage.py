"""MongoDB down across deadlines: N idle servers whose first deadlines fall at 6
moments a few seconds apart, with MongoDB (the lease store and read model) frozen from
just before the first deadline until after the last boundary. How many servers pay an
extra period? (Target 0: a delete waits for its termination slot only a short bound.)

    .venv/bin/python bench/mongo_outage.py [--quick | --full] [--servers N]
        [--period S] [--margin S] [--gap S]

Starts its own stack (bench/harness.py, SecantusDB in memory; MONGO_URI is refused,
since the benchmark must own the database process). The servers are started in 6
waves --gap seconds apart, so their deadlines (boundary - margin) fall at 6 moments.
Once all are READY, MongoDB is down from 3 s before the first deadline until 1 s after
the last boundary: stopped and started again on its on-disk data (--mode stop, the
default), or frozen with SIGSTOP and resumed (--mode freeze: connections hang, as on a
network partition). The workflows must then finish.

From the emulator's ledger: billed units per server (extra periods = units - 1), and
how many were deleted while MongoDB was down. From the workflows: final states, and how
many deleted without a termination slot.

Sizes: --quick 12 servers, default 30, --full 120.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    BenchStack,
    StackOptions,
    log,
    parse_time,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from core.models import ServerStatus  # noqa: E402
from devstack.procs import ManagedProcess  # noqa: E402

WAVES = 6
NO_SLOT = "without a termination slot"
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"servers": 12},
    "default": {"servers": 30},
    "full": {"servers": 120},
}


async def outage(mongo: ManagedProcess, mode: str, *, down: bool) -> None:
    """Stop (start) the database, or SIGSTOP (SIGCONT) it and its children."""
    if mode == "stop":
        await asyncio.to_thread(mongo.stop if down else mongo.start)
        return
    assert mongo.pid is not None
    root = psutil.Process(mongo.pid)
    for proc in [root, *root.children(recursive=True)]:
        proc.suspend() if down else proc.resume()


async def finish(stack: BenchStack, names: list[str], within: float) -> list[ServerStatus]:
    """The final statuses of the workflows that finish within the bound."""
    tasks = [asyncio.ensure_future(stack.handle(n).result()) for n in names]
    done, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    if pending:
        log(f"{len(pending)} workflows not finished within {within:.0f} s; see {stack.log_dir}")
    return [t.result() for t in done if t.exception() is None]


async def wait_created(stack: BenchStack, count: int, within: float) -> None:
    for _ in range(int(within / 0.2)):
        if len(await stack.emulator.ledger()) >= count:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{count} instances not created within {within:.0f} s")


async def wait_ready(stack: BenchStack, names: list[str], within: float) -> None:
    """Every server past provisioning (queried: the read model may lag)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        states = [(await stack.status(n)).state for n in names]
        if all(s not in ("PROVISIONING",) for s in states):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"servers not READY within {within:.0f} s; logs in {stack.log_dir}")


async def measure(servers: int, period: int, margin: int, gap: float, mode: str) -> dict[str, Any]:
    options = StackOptions(
        billing_period_seconds=period,
        terminate_before_seconds=margin,
        boot_seconds=2.0,
        ready_poll_seconds=1.0,
        max_servers=servers,
        mongo_on_disk=mode == "stop",
    )
    names = [f"mo-{i:04d}" for i in range(servers)]
    waves = [names[w::WAVES] for w in range(WAVES)]
    async with BenchStack(options, "mongo-outage") as stack:
        assert stack.mongo is not None
        started = 0
        for wave in waves:
            # The next wave starts --gap after this one's instances exist, so the
            # deadlines stay apart however slowly the worker picks up the first.
            await stack.start_servers(wave)
            started += len(wave)
            await wait_created(stack, started, within=60)
            await asyncio.sleep(gap)
        await wait_ready(stack, names, within=period)
        created = [t for r in await stack.emulator.ledger() if (t := parse_time(r["created_at"]))]
        first_deadline = min(created) + period - margin
        last_boundary = max(created) + period
        await asyncio.sleep(max(0.0, first_deadline - 3 - time.time()))
        if time.time() > first_deadline - 1:
            log("the first deadlines came before the outage: raise --period")
        log(f"MongoDB down ({mode})")
        down_at = time.time()
        await outage(stack.mongo, mode, down=True)
        try:
            await asyncio.sleep(max(0.0, last_boundary + 1 - time.time()))
            ledger_down = await stack.emulator.ledger()
        finally:
            await outage(stack.mongo, mode, down=False)
        up_at = time.time()
        log(f"MongoDB back after {up_at - down_at:.1f} s; waiting for the workflows")
        results = await finish(stack, names, within=period * 3 + 60)
        ledger = await stack.emulator.ledger()
    finished = results
    deleted_down = sum(
        1
        for r in ledger_down
        if (t := parse_time(r["deleted_at"])) is not None and down_at <= t <= up_at + 1
    )
    return {
        "servers": servers,
        "outage_seconds": round(up_at - down_at, 1),
        "deadline_span_seconds": round(max(created) - min(created), 1),
        "extra_periods": sum(max(0, int(r["units"]) - 1) for r in ledger),
        "deleted_while_down": deleted_down,
        "without_slot": sum(NO_SLOT in r.timeline[-1].reason for r in finished if r.timeline),
        "terminated": sum(r.state == "TERMINATED" for r in finished),
        "not_finished": len(names) - len(finished),
        "ledger": ledger,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--servers", type=int, help="idle servers, over 6 deadlines")
    parser.add_argument("--period", type=int, default=60, help="billing period (s)")
    parser.add_argument("--margin", type=int, default=5, help="terminate before boundary (s)")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between deadlines")
    parser.add_argument(
        "--mode", choices=("stop", "freeze"), default="stop", help="how MongoDB goes down"
    )
    return parser.parse_args()


async def run() -> int:
    args = parse_args()
    if os.environ.get("MONGO_URI"):
        print("error: unset MONGO_URI: the benchmark freezes its own database", file=sys.stderr)
        return 2
    if args.period - args.margin < WAVES * args.gap + 10:
        print("error: --period too short for 6 waves --gap apart to be READY", file=sys.stderr)
        return 2
    size, sizes = resolve_size(args, PRESETS)
    n = int(sizes["servers"])
    log(f"size {size}: {n} servers, period {args.period} s, margin {args.margin} s")
    out = await measure(n, args.period, args.margin, args.gap, args.mode)
    print(f"\nmongo outage — size {size}: MongoDB down ({args.mode}) across {WAVES} deadlines\n")
    print_table(
        ("N", "outage", "deadlines over", "deleted while down", "no slot", "extra periods"),
        [
            (
                out["servers"],
                f"{out['outage_seconds']} s",
                f"{out['deadline_span_seconds']} s",
                f"{out['deleted_while_down']}/{n}",
                out["without_slot"],
                out["extra_periods"],
            )
        ],
    )
    print(f"terminated {out['terminated']}/{n}; not finished {out['not_finished']}")
    path = write_results("mongo_outage", size, {"args": vars(args), **out})
    print(f"\nwrote {path}")
    ok = out["extra_periods"] == 0 and out["terminated"] == n
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(run)
