"""Tight rate limit: N idle Hetzner servers whose billing boundaries fall together, at
one API request a second. How many are deleted before their boundary, and how many
pay an extra period?

    .venv/bin/python bench/tight_limit.py [--quick | --full] [--servers N] [--rate R]
        [--margin S] [--period S] [--planner on|off|both]

Starts its own stack (bench/harness.py) with a Hetzner emulator whose project bucket
refills at --rate requests a second (capacity --burst) and a worker whose Hetzner queue
is limited to the same rate (HETZNER_REQUESTS_PER_SECOND). All N servers are requested
at once, so they are created back to back as fast as the limit allows and their
boundaries fall as close together as the limit lets them; each is left idle and must
be deleted at its first deadline (boundary - margin). The billing period is long
enough that every server is created before the first deadline (--calls-per-server
requests each, at --rate), so the deletions compete only with one another.

From the emulator: billed units per server (ledger) and the time of its successful
DELETE (request log). Reported: deleted in time (1 unit), extra periods paid (units -
1, summed), and slack = boundary - DELETE (min / p50; boundary from the ledger's
created_at, shown to the second, so slack may read up to 1 s low).

Sizes: --quick 10 servers, default and --full 120 (the issue's figure). With
`--planner both` (the default) the same run is made with the delete plan off and then
on, each on a fresh stack, and both rows are printed together.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    FINAL_STATES,
    ApiRequest,
    BenchStack,
    BenchTimeout,
    StackOptions,
    distribution,
    log,
    parse_time,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from core.models import ServerSpec  # noqa: E402

HETZNER_DELETE_ROUTE = "DELETE /v1/servers/{id}"
HETZNER_SPEC = ServerSpec(provider="hetzner", region="fsn1", plan="cx22", os_id=161547269)
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"servers": 10},
    "default": {"servers": 120},
    "full": {"servers": 120},
}


def period_for(servers: int, rate: float, margin: int, calls_per_server: float) -> int:
    """A period in which all `servers` are created (and READY) before the first deadline."""
    return math.ceil(servers * calls_per_server / rate) + margin + 60


def hetzner_deletes(requests: list[ApiRequest]) -> dict[str, float]:
    """Server id -> arrival of its first successful DELETE."""
    out: dict[str, float] = {}
    for r in requests:
        if r.route == HETZNER_DELETE_ROUTE and 200 <= r.status < 300:
            out.setdefault(r.path.rstrip("/").rsplit("/", 1)[-1], r.time)
    return out


@dataclass(frozen=True)
class Outcome:
    servers: int
    deleted_in_time: int
    extra_periods: int
    slack: dict[str, float]  # distribution of boundary - DELETE, seconds
    not_deleted: int  # no successful DELETE in the log (still running, or failed)


def outcome(
    ledger: list[dict[str, Any]],
    deletes: dict[str, float],
    period: float,
    id_field: str = "server_id",
) -> Outcome:
    """Each ledger row is one idle server meant to be billed exactly one period;
    `deletes` maps its `id_field` to its successful DELETE."""
    slack, in_time, extra, missing = [], 0, 0, 0
    for row in ledger:
        units = int(row["units"])
        in_time += units == 1 and row["deleted_at"] is not None
        extra += max(0, units - 1)
        deleted = deletes.get(str(row[id_field]))
        created = parse_time(row["created_at"])
        if deleted is None or created is None:
            missing += 1
            continue
        slack.append(created + period - deleted)
    return Outcome(len(ledger), in_time, extra, distribution(slack), missing)


def final_states(docs: dict[str, dict[str, Any]], names: list[str]) -> dict[str, int]:
    """How many of the named servers the read model shows in each state."""
    states: dict[str, int] = {}
    for name in names:
        state = docs.get(name, {}).get("state", "NOT STARTED")
        states[state] = states.get(state, 0) + 1
    return states


def planner_modes(choice: str) -> list[bool]:
    """`--planner on|off|both` as the runs to make, off first."""
    return {"off": [False], "on": [True], "both": [False, True]}[choice]


def write_runs(
    name: str, size: str, runs: dict[str, tuple[Outcome, dict[str, Any]]], each: int, **info: Any
) -> int:
    """Write the runs' JSON (`info` beside them); the exit code: 0 when each run had
    `each` servers and every one was seen deleted, else 1."""
    runs_json = {label: {"outcome": r.__dict__, **raw} for label, (r, raw) in runs.items()}
    path = write_results(name, size, {**info, "runs": runs_json})
    print(f"\nwrote {path}")
    complete = all(r.not_deleted == 0 and r.servers == each for r, _ in runs.values())
    return 0 if complete else 1


async def measure(
    servers: int,
    rate: float,
    margin: int,
    period: int,
    *,
    burst: int = 10,
    boot_seconds: float = 2.0,
    ready_poll_seconds: float = 5.0,
    planner: bool = True,
) -> tuple[Outcome, dict[str, Any]]:
    """One run on its own stack; the outcome and the raw numbers behind it."""
    options = StackOptions(
        billing_period_seconds=period,
        terminate_before_seconds=margin,
        boot_seconds=boot_seconds,
        ready_poll_seconds=ready_poll_seconds,
        hetzner=True,
        hetzner_requests_per_second=rate,
        hetzner_rate_limit=burst,
        hetzner_refill_per_second=rate,
        max_servers=servers,
        delete_planner=planner,
    )
    names = [f"tl-{i:04d}" for i in range(servers)]
    async with BenchStack(options, "tight-limit") as stack:
        assert stack.hetzner is not None
        t0 = time.time()
        await stack.start_servers(names, spec=HETZNER_SPEC)
        log(f"{servers} Hetzner servers requested at once; worker queue {rate:g} requests/s")
        within = 2 * period + servers * 6 / rate + 120
        try:
            await stack.wait_for_states(names, FINAL_STATES, within, "servers deleted")
        except BenchTimeout as exc:
            log(f"{exc}; reporting what the emulator saw")
        ledger = await stack.hetzner.ledger()
        requests = [r for r in await stack.hetzner.requests() if r.time >= t0 - 1]
        docs = await stack.read_model()
    result = outcome(ledger, hetzner_deletes(requests), period)
    states = final_states(docs, names)
    created = sorted(t for row in ledger if (t := parse_time(row["created_at"])) is not None)
    raw = {
        "states": states,
        "requests": len(requests),
        "responses_429": sum(r.status == 429 for r in requests),
        "creation_span_seconds": created[-1] - created[0] if created else 0.0,
        "ledger": ledger,
    }
    return result, raw


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--servers", type=int, help="idle servers provisioned at once")
    parser.add_argument("--rate", type=float, default=1.0, help="Hetzner requests per second")
    parser.add_argument("--burst", type=int, default=10, help="emulator bucket capacity (requests)")
    parser.add_argument("--margin", type=int, default=60, help="terminate before boundary (s)")
    parser.add_argument("--period", type=int, help="billing period (s); default: fits N")
    parser.add_argument(
        "--calls-per-server",
        type=float,
        default=4.0,
        help="requests until READY, to size the default period (about 3.2 measured)",
    )
    parser.add_argument("--boot-seconds", type=float, default=2.0)
    parser.add_argument(
        "--planner", choices=("on", "off", "both"), default="both", help="DELETE_PLANNER"
    )
    return parser.parse_args()


async def run() -> int:
    args = parse_args()
    if not 0 < args.rate <= 1:
        print("error: --rate must be above 0 and at most 1 (Hetzner's limit)", file=sys.stderr)
        return 2
    size, sizes = resolve_size(args, PRESETS)
    n = int(sizes["servers"])
    period = args.period or period_for(n, args.rate, args.margin, args.calls_per_server)
    log(
        f"size {size}: {n} servers, {args.rate:g} requests/s, margin {args.margin} s, "
        f"billing period {period} s"
    )
    modes = planner_modes(args.planner)
    runs: dict[str, tuple[Outcome, dict[str, Any]]] = {}
    for planner in modes:
        label = "on" if planner else "off"
        log(f"delete planner {label}")
        runs[label] = await measure(
            n,
            args.rate,
            args.margin,
            period,
            burst=args.burst,
            boot_seconds=args.boot_seconds,
            planner=planner,
        )
    print(
        f"\ntight limit — size {size}: Hetzner emulator and worker queue at {args.rate:g} "
        f"requests/s (bucket {args.burst}), billing period {period} s, idle servers\n"
    )
    rows = []
    for label, (result, _raw) in runs.items():
        slack = result.slack
        rows.append(
            (
                label,
                result.servers,
                f"{args.rate:g}/s",
                f"{args.margin} s",
                f"{result.deleted_in_time}/{result.servers}",
                result.extra_periods,
                f"{slack['p50']:.1f} / {slack['min']:.1f} s" if slack.get("n") else "-",
            )
        )
    print_table(
        ("planner", "N", "rate", "margin", "deleted in time", "extra periods", "slack p50 / min"),
        rows,
    )
    for label, (result, raw) in runs.items():
        print(
            f"planner {label}: created over {raw['creation_span_seconds']:.0f} s; "
            f"{raw['requests']} requests, {raw['responses_429']} answered 429; final states "
            f"{raw['states']}; no DELETE seen: {result.not_deleted}"
        )
    return write_runs("tight_limit", size, runs, n, args=vars(args), period=period)


if __name__ == "__main__":
    run_main(run)
