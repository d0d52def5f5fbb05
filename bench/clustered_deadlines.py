"""Clustered deadlines: N = 3 x rate x margin idle servers whose billing boundaries fall
within one margin, deleted at the account's sustained rate. How many pay an extra
period with the delete plan off, and with it on?

    .venv/bin/python bench/clustered_deadlines.py [--quick | --full] [--rate R]
        [--margin S] [--servers N] [--create-rate R] [--planner on|off|both]

At its sustained rate an account creates servers no faster than it deletes them, so
their boundaries spread over as long as their deletes take (bench/tight_limit.py).
They fall together when the fleet was created faster than it is now deleted: in a
burst a provider's bucket allowed (Hetzner's holds 3,600 requests and regains one a
second), or before the operator lowered the worker's rate to leave room for other
tools on the same API key. This bench makes the second happen at Vultr. A worker whose
Vultr queue runs at --create-rate (default 25/s; Vultr allows 30) creates all N servers
at once, each marked busy from its start so that none plans a delete yet. Once all are
EXECUTING, the worker is restarted with its Vultr queue at --rate
(VULTR_REQUESTS_PER_SECOND, the rate its delete plan budgets) and every server is
marked idle. Each must now be deleted at its first deadline (boundary - margin), and N
deletes at --rate take three margins: without a plan, the deletes due together queue
past their boundaries. N servers are created within one margin when --create-rate is
at least about 9 x --rate (three requests a server).

From the emulator: billed units per server (ledger), the spread of the creations
(so of the boundaries), and each successful DELETE (request log). Reported per run:
deleted in time (1 unit), extra periods paid, slack = boundary - DELETE (p50 / min /
max; the boundary from the ledger's created_at, shown to the second, so slack may read
up to 1 s low).

Sizes set the margin: --quick 5 s, default 10 s, --full 30 s; N defaults to
3 x rate x margin (at the default rate of 2/s: 30, 60, 180 servers). With `--planner
both` (the default) the run is made with the delete plan off and then on, each on a
fresh stack, and both rows are printed together.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    FINAL_STATES,
    SPEC,
    BenchStack,
    BenchTimeout,
    StackOptions,
    bounded_gather,
    deletions,
    log,
    parse_time,
    print_table,
    resolve_size,
    run_main,
    size_flags,
)
from bench.tight_limit import (  # noqa: E402
    Outcome,
    final_states,
    outcome,
    planner_modes,
    write_runs,
)
from core.settings import Settings  # noqa: E402

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"margin": 5},
    "default": {"margin": 10},
    "full": {"margin": 30},
}
SETUP_TASK = "setup"  # the task each server runs until the deletes are due
# Worker restart, busy signals and READY polls before the servers are marked idle.
SETUP_SECONDS = 60
DELETE_SHARE: float = Settings.model_fields["delete_budget_share"].default


def clustered_servers(rate: float, margin: int) -> int:
    """The issue's N: three margins' worth of deletes at `rate`."""
    return math.ceil(3 * rate * margin)


def period_for(servers: int, rate: float, margin: int, create_rate: float) -> int:
    """A period in which all `servers` are created at `create_rate` (about 4 requests
    each at most) and the worker restarted, with room left before the first deadline for the
    delete plan to spread every delete at its budget (`rate` x the delete share)."""
    creating = SETUP_SECONDS + servers * 4 / create_rate
    planning = servers / (rate * DELETE_SHARE)
    return math.ceil(creating + planning) + margin + 30


def boundary_spread(ledger: list[dict[str, Any]]) -> float:
    """Seconds between the first and the last creation (so between the boundaries)."""
    created = sorted(t for row in ledger if (t := parse_time(row["created_at"])) is not None)
    return created[-1] - created[0] if created else 0.0


async def measure(
    servers: int,
    rate: float,
    margin: int,
    period: int,
    *,
    create_rate: float,
    planner: bool,
    boot_seconds: float = 1.0,
) -> tuple[Outcome, dict[str, Any]]:
    """One run on its own stack; the outcome and the raw numbers behind it."""
    options = StackOptions(
        billing_period_seconds=period,
        terminate_before_seconds=margin,
        boot_seconds=boot_seconds,
        ready_poll_seconds=1.0,
        vultr_requests_per_second=create_rate,
        max_servers=servers,
        delete_planner=planner,
    )
    names = [f"cd-{i:04d}" for i in range(servers)]
    async with BenchStack(options, "clustered-deadlines") as stack:
        t0 = time.time()
        await stack.start_servers(names, spec=SPEC)
        await bounded_gather((stack.signal_busy(n, SETUP_TASK) for n in names), 32)
        log(f"{servers} Vultr servers requested at once, busy; queue {create_rate:g}/s")
        await stack.wait_for_states(names, {"EXECUTING"}, SETUP_SECONDS * 3, "servers busy")
        log(f"restarting the worker with its Vultr queue at {rate:g} requests/s")
        await stack.reconfigure_workers({"VULTR_REQUESTS_PER_SECOND": str(rate)})
        idle_at = time.time()
        await bounded_gather((stack.signal_idle(n, SETUP_TASK) for n in names), 32)
        log(f"all {servers} marked idle; each goes at its first deadline")
        within = 2 * period + servers / rate + 120
        try:
            await stack.wait_for_states(names, FINAL_STATES, within, "servers deleted")
        except BenchTimeout as exc:
            log(f"{exc}; reporting what the emulator saw")
        ledger = await stack.emulator.ledger()
        requests = [r for r in await stack.emulator.requests() if r.time >= t0 - 1]
        docs = await stack.read_model()
    deleted = {i: d.deleted for i, d in deletions(requests).items() if d.deleted is not None}
    result = outcome(ledger, deleted, period, id_field="instance_id")
    states = final_states(docs, names)
    created = [t for row in ledger if (t := parse_time(row["created_at"])) is not None]
    first_deadline = min(created) + period - margin if created else idle_at
    raw = {
        "states": states,
        "requests": len(requests),
        "responses_429": sum(r.status == 429 for r in requests),
        "boundary_spread_seconds": boundary_spread(ledger),
        "idle_before_first_deadline_seconds": first_deadline - idle_at,
        "ledger": ledger,
    }
    return result, raw


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--rate", type=float, default=2.0, help="Vultr requests/s when deleting")
    parser.add_argument("--margin", type=int, help="terminate before boundary (s)")
    parser.add_argument("--servers", type=int, help="default: 3 x rate x margin")
    parser.add_argument(
        "--create-rate", type=float, default=25.0, help="Vultr requests/s while creating"
    )
    parser.add_argument("--period", type=int, help="billing period (s); default: fits N")
    parser.add_argument(
        "--planner", choices=("on", "off", "both"), default="both", help="DELETE_PLANNER"
    )
    return parser.parse_args()


async def run() -> int:
    args = parse_args()
    if not 0 < args.rate < args.create_rate <= 30:
        print(
            "error: need 0 < --rate < --create-rate <= 30 (Vultr's limit), "
            "or the boundaries do not fall together",
            file=sys.stderr,
        )
        return 2
    size, sizes = resolve_size(args, PRESETS)
    margin = int(sizes["margin"])
    counts = (("--margin", margin), ("--servers", args.servers), ("--period", args.period))
    for flag, value in counts:
        if value is not None and value < 1:
            print(f"error: {flag} must be at least 1, not {value}", file=sys.stderr)
            return 2
    n = args.servers or clustered_servers(args.rate, margin)
    period = args.period or period_for(n, args.rate, margin, args.create_rate)
    log(
        f"size {size}: {n} servers, created at {args.create_rate:g}/s, deleted at "
        f"{args.rate:g}/s, margin {margin} s, billing period {period} s"
    )
    modes = planner_modes(args.planner)
    runs: dict[str, tuple[Outcome, dict[str, Any]]] = {}
    for planner in modes:
        label = "on" if planner else "off"
        log(f"delete planner {label}")
        runs[label] = await measure(
            n, args.rate, margin, period, create_rate=args.create_rate, planner=planner
        )
    print(
        f"\nclustered deadlines — size {size}: {n} idle Vultr servers created at "
        f"{args.create_rate:g} requests/s, deleted at {args.rate:g}/s (3 x rate x margin = "
        f"{clustered_servers(args.rate, margin)}), billing period {period} s\n"
    )
    rows = []
    for label, (result, raw) in runs.items():
        slack = result.slack
        rows.append(
            (
                label,
                result.servers,
                f"{args.rate:g}/s",
                f"{margin} s",
                f"{raw['boundary_spread_seconds']:.0f} s",
                f"{result.deleted_in_time}/{result.servers}",
                result.extra_periods,
                f"{slack['p50']:.1f} / {slack['min']:.1f} / {slack['max']:.1f} s"
                if slack.get("n")
                else "-",
            )
        )
    print_table(
        (
            "planner",
            "N",
            "rate",
            "margin",
            "boundaries within",
            "deleted in time",
            "extra periods",
            "slack p50 / min / max",
        ),
        rows,
    )
    for label, (result, raw) in runs.items():
        print(
            f"planner {label}: marked idle {raw['idle_before_first_deadline_seconds']:.0f} s "
            f"before the first deadline; {raw['requests']} requests, {raw['responses_429']} "
            f"answered 429; final states {raw['states']}; no DELETE seen: {result.not_deleted}"
        )
    info = {"args": vars(args), "margin": margin, "servers": n, "period": period}
    return write_runs("clustered_deadlines", size, runs, n, **info)


if __name__ == "__main__":
    run_main(run)
