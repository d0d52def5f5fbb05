"""Provisioning burst: N servers requested at once against Vultr's 30 requests/s.

    .venv/bin/python bench/provisioning.py [--quick | --full] [--servers N] [--boot-seconds S]

Starts its own stack (bench/harness.py), starts N server workflows at once, and waits
until every one is READY, then until every one has terminated at its first billing
deadline (short billing period, so the whole lifecycle is measured). Reports:

- time from the request until all N are READY, against the bound
  `Vultr API calls made until then / 30 per second + boot time`, with the calls taken
  from the emulator's request log (a 429 is not counted: the emulator does not charge
  refused requests to the budget); also the bound if each server made only the
  minimum (look up, create, one readiness GET);
- 429 answers seen and the busiest one-second window of admitted requests;
- failed workflows (must be 0), instances left at Vultr, duplicates;
- Vultr API calls per server lifecycle, by route;
- how precisely the idle servers were then deleted: slack before the boundary of their
  first deadline after READY, extra billed hours, and the wait between the deadline's
  TERMINATING transition and the first DELETE (termination slots, queue).

The worker's Vultr task-queue rate limit is VULTR_REQUESTS_PER_SECOND (default 25).
Sizes: --quick 20 servers / 5 s boot, default 100 / 20 s, --full 500 / 20 s (the issue).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.api.history.v1 import HistoryEvent  # noqa: E402

from bench.harness import (  # noqa: E402
    FINAL_STATES,
    BenchStack,
    StackOptions,
    deletions,
    distribution,
    first_deadline_units,
    fmt_dist,
    fmt_shares,
    histogram_shares,
    log,
    parse_time,
    peak_in_window,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from core.models import ServerStatus  # noqa: E402

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"servers": 20, "boot_seconds": 5.0},
    "default": {"servers": 100, "boot_seconds": 20.0},
    "full": {"servers": 500, "boot_seconds": 20.0},
}
WFT_QUEUED = "temporal_workflow_task_schedule_to_start_latency"
CATALOG_CALLS = 3  # regions, plans, OS: loaded once per worker process
MIN_CALLS_PER_SERVER = 3  # look up by tag, create, one readiness GET


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--servers", type=int, help="servers requested at once")
    parser.add_argument("--boot-seconds", type=float, help="emulator: create to active/running/ok")
    parser.add_argument("--period", type=int, default=60, help="billing period (s)")
    parser.add_argument("--margin", type=int, default=5, help="terminate before boundary (s)")
    parser.add_argument("--rate-limit", type=int, default=30, help="emulator requests/s")
    parser.add_argument("--vultr-rps", type=float, default=25.0, help="worker Vultr queue req/s")
    parser.add_argument("--ready-poll", type=float, default=5.0, help="policy readiness poll (s)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def entered(status: ServerStatus, state: str) -> float | None:
    for entry in status.timeline:
        if entry.state == state:
            return entry.at.timestamp()
    return None


def termination_waits(events: list[HistoryEvent]) -> dict[str, float]:
    """From one history: how long the termination slot took (and in how many attempts),
    and how long the first delete activity waited in the rate-limited Vultr queue
    (scheduled until its last attempt started)."""
    scheduled: dict[int, tuple[str, float]] = {}
    out: dict[str, float] = {}
    for e in events:
        at = e.event_time.seconds + e.event_time.nanos / 1e9
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[e.event_id] = (name, at)
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = e.activity_task_started_event_attributes
            name, since = scheduled[attrs.scheduled_event_id]
            if name == "take_termination_slot":
                out["slot_attempts"] = attrs.attempt
            elif name == "delete_instance" and "delete_queued" not in out:
                out["delete_queued"] = at - since
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs_c = e.activity_task_completed_event_attributes
            name, since = scheduled[attrs_c.scheduled_event_id]
            if name == "take_termination_slot":
                out["slot_wait"] = at - since
    return out


async def run() -> int:
    args = parse_args()
    size, sizes = resolve_size(args, PRESETS)
    n, boot = int(sizes["servers"]), float(sizes["boot_seconds"])
    options = StackOptions(
        billing_period_seconds=args.period,
        terminate_before_seconds=args.margin,
        boot_seconds=boot,
        rate_limit=args.rate_limit,
        vultr_requests_per_second=args.vultr_rps,
        ready_poll_seconds=args.ready_poll,
        seed=args.seed,
    )
    names = [f"prov-{i:04d}" for i in range(n)]
    # Generous but finite: twice the worst expected pace, plus start-up slack.
    ready_timeout = 2 * (n * 8 / args.vultr_rps + boot) + 120
    log(f"size {size}: {n} servers, boot {boot:g} s")
    async with BenchStack(options, "provisioning") as stack:
        t0 = time.time()
        await stack.start_servers(names, concurrency=64)
        submitted = time.time() - t0
        log(f"{n} workflows started in {submitted:.1f} s; waiting for READY")
        after_ready = {"READY", "EXECUTING", "IDLE", "TERMINATING", *FINAL_STATES}
        await stack.wait_for_states(names, after_ready, ready_timeout, "provisioned")
        log("all provisioned; waiting for each to terminate at its first deadline")
        await stack.wait_for_states(
            names, FINAL_STATES, 3 * args.period + ready_timeout, "terminated"
        )
        results = await stack.results(names)
        waits = [termination_waits(h) for h in (await stack.histories(names)).values()]
        requests = [r for r in await stack.emulator.requests() if r.time >= t0 - 1]
        ledger = await stack.emulator.ledger()
        worker_log = stack.worker_log_counts()
        wft = histogram_shares({}, await stack.worker_histogram(WFT_QUEUED, stack.TASK_QUEUE))

    failed: dict[str, object] = {
        k: v for k, v in results.items() if not isinstance(v, ServerStatus)
    }
    statuses = {k: v for k, v in results.items() if isinstance(v, ServerStatus)}
    failed.update({k: v.state for k, v in statuses.items() if v.state != "TERMINATED"})
    ready = sorted(t - t0 for s in statuses.values() if (t := entered(s, "READY")) is not None)
    all_ready = ready[-1] if len(ready) == n else float("nan")

    admitted = [r for r in requests if r.status != 429]
    until_ready = [r for r in admitted if r.time <= t0 + all_ready]
    bound = len(until_ready) / args.rate_limit + boot
    min_bound = (CATALOG_CALLS + MIN_CALLS_PER_SERVER * n) / args.rate_limit + boot
    queue_bound = len(until_ready) / args.vultr_rps + boot
    too_many = [r for r in requests if r.status == 429]

    by_route: dict[str, Counter[str]] = defaultdict(Counter)
    for r in requests:
        c = by_route[r.route_name]
        c["calls"] += 1
        c["429"] += r.status == 429
        c["5xx"] += r.status >= 500
    gets_per_instance = Counter(
        r.instance_id for r in requests if r.route == "GET /v2/instances/{instance-id}"
    )
    labels = Counter(row["label"] for row in ledger)
    live = [row for row in ledger if row["deleted_at"] is None]
    billed = [float(row["units"]) for row in ledger]
    # Idle from READY on, so each should go at its first deadline after READY.
    deleted = deletions(requests)
    by_label = {row["label"]: row for row in ledger}
    extra_hours, slack, noticed, to_delete = 0, [], [], []
    for status in statuses.values():
        row = by_label.get(status.workflow_id)
        ready_at, going = entered(status, "READY"), entered(status, "TERMINATING")
        gone = deleted.get(status.instance_id or "")
        if row is None or ready_at is None or going is None or gone is None or not gone.deleted:
            continue
        start = parse_time(row["created_at"]) or 0.0
        k, ambiguous = first_deadline_units(start, ready_at, args.period, args.margin)
        if ambiguous and row["units"] == k + 1:
            k += 1
        extra_hours += max(0, int(row["units"]) - k)
        slack.append(start + k * args.period - gone.deleted)
        noticed.append(going - (start + k * args.period - args.margin))
        to_delete.append(gone.first_attempt - going)
    slot_wait = [w["slot_wait"] for w in waits if "slot_wait" in w]
    slot_tries = [float(w["slot_attempts"]) for w in waits if "slot_attempts" in w]
    queued = [w["delete_queued"] for w in waits if "delete_queued" in w]
    lifetimes = [
        parse_time(row["deleted_at"]) - parse_time(row["created_at"])  # type: ignore[operator]
        for row in ledger
        if row["deleted_at"]
    ]

    print(
        f"\nprovisioning — size {size}: {n} servers at once, boot {boot:g} s, emulator limit "
        f"{args.rate_limit} req/s, worker Vultr queue {args.vultr_rps:g} req/s, readiness poll "
        f"{args.ready_poll:g} s, billing period {args.period} s, margin {args.margin} s\n"
    )
    rows = [
        ("workflows started (client side)", f"{submitted:.1f} s"),
        (
            "first / median / last READY",
            f"{ready[0]:.1f} / {ready[len(ready) // 2]:.1f} / {ready[-1]:.1f} s" if ready else "-",
        ),
        ("time until all READY", f"{all_ready:.1f} s"),
        ("Vultr calls admitted until then", str(len(until_ready))),
        (f"bound: those calls / {args.rate_limit} per s + boot", f"{bound:.1f} s"),
        (f"same calls at the queue's {args.vultr_rps:g} per s + boot", f"{queue_bound:.1f} s"),
        (
            f"minimum calls ({CATALOG_CALLS} + {MIN_CALLS_PER_SERVER}/server) / "
            f"{args.rate_limit} + boot",
            f"{min_bound:.1f} s",
        ),
        ("all READY / bound", f"{all_ready / bound:.2f}"),
        ("429 answers (whole run)", str(len(too_many))),
        ("busiest 1 s window (admitted)", f"{peak_in_window([r.time for r in admitted])} req"),
        ("failed workflows", str(len(failed))),
        (
            "instances created / duplicates",
            f"{len(ledger)} / {sum(v - 1 for v in labels.values())}",
        ),
        ("instances left at Vultr", str(len(live))),
        ("billed hours per server min/p50/p99/max", fmt_dist(distribution(billed), "", 0)),
        ("instance lifetime min/p50/p99/max", fmt_dist(distribution(lifetimes), " s", 0)),
        ("extra billed hours (vs first deadline after READY)", str(extra_hours)),
        ("slack: boundary - delete, min/p50/p99/max", fmt_dist(distribution(slack), " s")),
        ("deadline -> TERMINATING min/p50/p99/max", fmt_dist(distribution(noticed), " s")),
        ("TERMINATING -> first DELETE min/p50/p99/max", fmt_dist(distribution(to_delete), " s")),
        ("  termination slot wait min/p50/p99/max", fmt_dist(distribution(slot_wait), " s")),
        ("  termination slot attempts min/p50/p99/max", fmt_dist(distribution(slot_tries), "", 0)),
        ("  delete queued -> started min/p50/p99/max", fmt_dist(distribution(queued), " s")),
        ("workflow tasks: n; queued > 1 s, > 10 s (worker lag)", fmt_shares(wft)),
        (
            "worker log: warnings / errors / tracebacks",
            f"{worker_log.get('warning_lines', 0)} / {worker_log.get('error_lines', 0)} / "
            f"{worker_log.get('tracebacks', 0)}",
        ),
    ]
    print_table(("metric", "value"), rows)
    route_rows = [
        (route, c["calls"], f"{c['calls'] / n:.2f}", c["429"], c["5xx"])
        for route, c in sorted(by_route.items(), key=lambda kv: -kv[1]["calls"])
    ]
    route_rows.append(
        (
            "all routes",
            len(requests),
            f"{len(requests) / n:.2f}",
            len(too_many),
            sum(c["5xx"] for c in by_route.values()),
        )
    )
    print_table(
        ("route", "calls", "per server lifecycle", "429", "5xx"),
        route_rows,
        "Vultr API calls per server lifecycle (request to deletion confirmed), by route",
    )
    gets = distribution([float(v) for v in gets_per_instance.values()])
    print(
        f"GET /v2/instances/{{id}} per instance (readiness polls + delete confirmation) "
        f"min/p50/p99/max: {fmt_dist(gets, '', 0)}"
    )

    payload = {
        "servers": n,
        "boot_seconds": boot,
        "args": vars(args),
        "submit_seconds": submitted,
        "ready_seconds": distribution(ready),
        "all_ready_seconds": all_ready,
        "calls_until_all_ready": len(until_ready),
        "bound_seconds": bound,
        "bound_at_queue_rate_seconds": queue_bound,
        "minimum_bound_seconds": min_bound,
        "responses_429": len(too_many),
        "peak_requests_in_one_second": peak_in_window([r.time for r in admitted]),
        "failed_workflows": {k: str(v) for k, v in failed.items()},
        "instances_created": len(ledger),
        "duplicate_instances": sum(v - 1 for v in labels.values()),
        "instances_left": len(live),
        "billed_hours": distribution(billed),
        "extra_billed_hours": extra_hours,
        "slack_seconds": distribution(slack),
        "deadline_to_terminating_seconds": distribution(noticed),
        "terminating_to_first_delete_seconds": distribution(to_delete),
        "termination_slot_wait_seconds": distribution(slot_wait),
        "termination_slot_attempts": distribution(slot_tries),
        "delete_queued_seconds": distribution(queued),
        "calls_by_route": {k: dict(v) for k, v in by_route.items()},
        "calls_per_server": len(requests) / n,
        "gets_per_instance": gets,
        "worker_log": worker_log,
        "workflow_task_schedule_to_start": wft,
    }
    path = write_results("provisioning", size, payload)
    print(f"\nwrote {path}")
    ok = not failed and not live and len(ready) == n
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(run)
