"""What waiting costs: Vultr API calls and workflow history events per server and
billing period while nothing happens.

    .venv/bin/python bench/idle_overhead.py [--quick | --full] [--servers M] [--period S]

Starts its own stack (bench/harness.py) and measures two groups of M servers, one
after the other so that neither's provisioning or deletion falls into the other's
waiting window:

(a) idle until the deadline: servers that become READY and stay idle. By design an idle
    server is deleted at its first billing deadline, so this is one idle stretch per
    server: from the READY transition to the TERMINATING transition. History events are
    counted between the two search-attribute upserts that publish those states; API
    calls are those naming the server's instance in that stretch, plus every call of
    any kind made while all M servers were waiting at once.
(b) busy but silent over several periods: each server is marked busy once (a long task
    that sends nothing), then left alone for --periods billing periods; it survives
    every deadline. Events are the history growth over exactly that window, API calls
    every request the emulator saw in it (nothing else runs then).

Target: 0 API calls while waiting and a handful of history events per period.
Sizes: --quick 10 servers / 30 s period, default 50 / 60 s, --full 200 / 60 s (the issue).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.api.history.v1 import HistoryEvent  # noqa: E402

from bench.harness import (  # noqa: E402
    FINAL_STATES,
    ApiRequest,
    BenchStack,
    StackOptions,
    distribution,
    event_name,
    log,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    state_marks,
    write_results,
)
from core.models import ServerStatus  # noqa: E402

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"servers": 10, "period": 30},
    "default": {"servers": 50, "period": 60},
    "full": {"servers": 200, "period": 60},
}
SETTLE_SECONDS = 3.0  # after the last busy transition is recorded, before the window opens
TASK_ID = "silent-job"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--servers", type=int, help="servers in each group")
    parser.add_argument("--period", type=int, help="billing period (s), one emulated hour")
    parser.add_argument("--periods", type=int, default=3, help="periods group (b) is kept")
    parser.add_argument("--margin", type=int, default=5, help="terminate before boundary (s)")
    parser.add_argument("--boot-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def entered(status: ServerStatus, state: str) -> float | None:
    for entry in status.timeline:
        if entry.state == state:
            return entry.at.timestamp()
    return None


def activity_types(events: list[HistoryEvent]) -> Counter[str]:
    return Counter(
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )


def per_server(counter: Counter[str], servers: int, periods: float = 1.0) -> dict[str, float]:
    return {k: round(v / servers / periods, 3) for k, v in counter.most_common()}


async def idle_until_deadline(stack: BenchStack, m: int, period: int) -> dict[str, Any]:
    names = [f"idle-{i:04d}" for i in range(m)]
    t0 = time.time()
    await stack.start_servers(names)
    log(f"(a) {m} idle servers started; each should go at its first deadline")
    await stack.wait_for_states(names, FINAL_STATES, 3 * period + m * 2 + 300, "(a) terminated")
    results = await stack.results(names)
    histories = await stack.histories(names)
    requests = [r for r in await stack.emulator.requests() if r.time >= t0 - 1]

    by_instance: dict[str, list[ApiRequest]] = {}
    for r in requests:
        if r.instance_id:
            by_instance.setdefault(r.instance_id, []).append(r)
    windows: list[float] = []
    calls: list[int] = []
    events: list[int] = []
    problems: list[str] = []
    kinds: Counter[str] = Counter()
    acts: Counter[str] = Counter()
    for name in names:
        status = results[name]
        if not isinstance(status, ServerStatus) or status.state != "TERMINATED":
            problems.append(
                f"{name}: {status if not isinstance(status, ServerStatus) else status.state}"
            )
            continue
        ready, going = entered(status, "READY"), entered(status, "TERMINATING")
        assert ready is not None and going is not None
        windows.append(going - ready)
        mine = by_instance.get(status.instance_id or "", [])
        calls.append(sum(ready < r.time < going for r in mine))
        marks = dict((s, i) for i, s in reversed(state_marks(histories[name])))
        between = histories[name][marks["READY"] + 1 : marks["TERMINATING"]]
        events.append(len(between))
        kinds.update(event_name(e) for e in between)
        acts.update(activity_types(between))
    ok = len(events)
    readies = [entered(s, "READY") for s in results.values() if isinstance(s, ServerStatus)]
    goings = [entered(s, "TERMINATING") for s in results.values() if isinstance(s, ServerStatus)]
    all_wait_from = max(t for t in readies if t is not None)
    all_wait_to = min(t for t in goings if t is not None)
    overlap = max(0.0, all_wait_to - all_wait_from)
    overlap_calls = [r for r in requests if all_wait_from < r.time < all_wait_to]
    scans = [s for s, _ in await stack.reconcile_runs() if all_wait_from < s < all_wait_to]
    return {
        "servers": m,
        "completed": ok,
        "problems": problems,
        "window_seconds": distribution(windows),
        "instance_calls_in_window": sum(calls),
        "all_waiting_seconds": overlap,
        "calls_while_all_waiting": len(overlap_calls),
        "calls_while_all_waiting_by_route": dict(Counter(r.route_name for r in overlap_calls)),
        "reconcile_runs_while_all_waiting": len(scans),
        "events_per_window": distribution([float(e) for e in events]),
        "event_types_per_server": per_server(kinds, max(ok, 1)),
        "activities_per_server": per_server(acts, max(ok, 1)),
    }


async def busy_silent(stack: BenchStack, m: int, period: int, periods: int) -> dict[str, Any]:
    names = [f"busy-{i:04d}" for i in range(m)]
    await stack.start_servers(names)
    await stack.wait_for_states(names, {"READY"}, m * 2 + 300, "(b) provisioned")
    await asyncio.gather(*(stack.signal_busy(n, TASK_ID) for n in names))
    await stack.wait_for_states(names, {"EXECUTING"}, 120, "(b) marked busy")
    await asyncio.sleep(SETTLE_SECONDS)
    before = {n: len(h) for n, h in (await stack.histories(names)).items()}
    t_start = time.time()
    window = periods * period
    log(f"(b) {m} servers busy; waiting {window} s ({periods} billing periods)")
    await asyncio.sleep(window)
    t_end = time.time()
    after = await stack.histories(names)
    docs = await stack.read_model()
    still_busy = sum(docs[n]["state"] == "EXECUTING" for n in names)
    # Let them go; the waiting window is over.
    await asyncio.gather(*(stack.signal_idle(n, TASK_ID) for n in names))
    await stack.terminate_now(names)
    await stack.wait_for_states(names, FINAL_STATES, m + 300, "(b) terminated")
    requests = await stack.emulator.requests()
    in_window = [r for r in requests if t_start <= r.time <= t_end]
    # Nothing provisions or deletes in the window: a call that names no instance is the
    # worker's fleet-wide reconciliation scan.
    own = [r for r in in_window if r.instance_id]
    scans = [s for s, _ in await stack.reconcile_runs() if t_start <= s <= t_end]

    grown = [len(after[n]) - before[n] for n in names]
    kinds: Counter[str] = Counter()
    acts: Counter[str] = Counter()
    for n in names:
        added = after[n][before[n] :]
        kinds.update(event_name(e) for e in added)
        acts.update(activity_types(added))
    return {
        "servers": m,
        "window_seconds": window,
        "periods": periods,
        "still_busy_at_end": still_busy,
        "calls_in_window": len(in_window),
        "instance_calls_in_window": len(own),
        "fleet_wide_calls_in_window": len(in_window) - len(own),
        "reconcile_runs_in_window": len(scans),
        "calls_in_window_by_route": dict(Counter(r.route_name for r in in_window)),
        "events_per_window": distribution([float(g) for g in grown]),
        "events_per_period": distribution([g / periods for g in grown]),
        "event_types_per_server_per_period": per_server(kinds, m, periods),
        "activities_per_server_per_period": per_server(acts, m, periods),
    }


def _fmt(d: dict[str, float], digits: int = 1) -> str:
    if not d.get("n"):
        return "-"
    return f"{d['p50']:.{digits}f} ({d['min']:.{digits}f}-{d['max']:.{digits}f})"


async def run() -> int:
    args = parse_args()
    size, sizes = resolve_size(args, PRESETS)
    m, period = int(sizes["servers"]), int(sizes["period"])
    options = StackOptions(
        billing_period_seconds=period,
        terminate_before_seconds=args.margin,
        boot_seconds=args.boot_seconds,
        ready_poll_seconds=1.0,
        seed=args.seed,
    )
    log(f"size {size}: {m} servers per group, billing period {period} s")
    async with BenchStack(options, "idle-overhead") as stack:
        a = await idle_until_deadline(stack, m, period)
        b = await busy_silent(stack, m, period, args.periods)
        left = [row for row in await stack.emulator.ledger() if row["deleted_at"] is None]
        reconciles = len(await stack.reconcile_runs())
        worker_log = stack.worker_log_counts()

    print(
        f"\nidle overhead — size {size}: {m} servers per group, billing period {period} s "
        f"(one emulated hour), margin {args.margin} s, boot {args.boot_seconds:g} s\n"
    )
    rows = [
        (
            "(a) idle: READY -> deadline",
            f"{a['completed']}/{m}",
            _fmt(a["window_seconds"], 0) + " s",
            f"{a['instance_calls_in_window']} "
            f"({a['instance_calls_in_window'] / max(a['completed'], 1):.2f} per stretch)",
            f"{a['calls_while_all_waiting']} in the {a['all_waiting_seconds']:.0f} s all "
            f"{m} waited; {a['reconcile_runs_while_all_waiting']} reconcile run(s)",
            _fmt(a["events_per_window"]),
            "one idle stretch (ends the server)",
        ),
        (
            f"(b) busy, silent: {args.periods} periods",
            f"{b['still_busy_at_end']}/{m} kept",
            f"{b['window_seconds']} s",
            f"{b['instance_calls_in_window']} "
            f"({b['instance_calls_in_window'] / m / args.periods:.2f})",
            f"{b['fleet_wide_calls_in_window']}; {b['reconcile_runs_in_window']} reconcile run(s)",
            _fmt(b["events_per_window"]),
            _fmt(b["events_per_period"]),
        ),
    ]
    print_table(
        (
            "case",
            "servers",
            "window p50 (min-max)",
            "API calls naming a server (per server-period)",
            "fleet-wide API calls in window",
            "history events per server in window",
            "per billing period",
        ),
        rows,
    )
    print("(a) per server, READY -> TERMINATING:", a["event_types_per_server"])
    print("    activities:", a["activities_per_server"])
    print("(b) per server per period:", b["event_types_per_server_per_period"])
    print("    activities:", b["activities_per_server_per_period"])
    print(f"instances left at Vultr after both: {len(left)}; reconcile runs in all: {reconciles}")
    if a["problems"]:
        print("(a) problems:", a["problems"])

    path = write_results(
        "idle_overhead",
        size,
        {
            "args": vars(args),
            "period": period,
            "idle_until_deadline": a,
            "busy_silent": b,
            "instances_left": len(left),
            "reconcile_runs": reconciles,
            "worker_log": worker_log,
        },
    )
    print(f"\nwrote {path}")
    ok = not a["problems"] and b["still_busy_at_end"] == m and not left
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(run)
