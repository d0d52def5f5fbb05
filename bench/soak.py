"""Soak: the whole product under random job traffic and random faults for a long while,
then drained and checked against the invariants that must hold whatever happened.

    .venv/bin/python bench/soak.py [--quick] [--minutes M] [--seed S] [--workers N]

Starts its own stack (bench/harness.py): N `python worker.py` processes (default 3),
the Temporal dev server on SQLite and SecantusDB on disk (both restartable), and the
Vultr, Hetzner and DigitalOcean emulators, with short billing periods. Each emulator is
seeded with a few instances that are not ours (no labels, lookalike labels).

Traffic (bench/soak_traffic.py), from a seeded RNG: servers started at all three
providers, jobs marked busy and idle by signal, claims and releases through the
ClaimBroker, explicit terminations (at the deadline or now), and a warm pool resized now
and then. Faults (bench/soak_faults.py), one at a time from the same seed: SIGKILL of a
worker (restarted after 1-10 s), SIGSTOP/SIGCONT of MongoDB, a MongoDB restart, a
Temporal restart, provider 5xx bursts, 429 storms, dropped create responses, locked
deletes and DELETE latency. Progress on stderr every 30 s.

At the end the faults stop, every job ends, the pool stops, servers drain at their
deadlines for a while and the rest are terminated now. The invariants
(bench/soak_checks.py, whose docstring defines "intended periods") are then judged
from the emulators' ledgers and request logs, the read model and the histories: a table
of faults (kind, count) and of invariants (measured value) is printed, the JSON is
written to bench/results/soak-<time>.json, and the exit code is 1 on a violation, after
each offending server's timeline and history excerpt.

Sizes: default --minutes 30 (period 120 s, margin 60 s); --quick 1 3/4 minutes of traffic
(period 80 s, margin 40 s), about 3 minutes with start-up and drain; the suite's
tests/faults/test_soak.py runs the quick size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.fleet_store import status_from_record  # noqa: E402
from bench.harness import (  # noqa: E402
    API_KEY,
    BenchStack,
    EmulatorAdmin,
    StackOptions,
    log,
    print_table,
    run_main,
    write_results,
)
from bench.soak_checks import INVARIANTS, Evidence, Verdict, judge  # noqa: E402
from bench.soak_faults import FAULT_KINDS, FaultLimits, Injector  # noqa: E402
from bench.soak_traffic import SPECS, Traffic, TrafficPlan  # noqa: E402
from core.models import ServerPolicy, ServerStatus, TerminationRequest  # noqa: E402
from core.naming import MANAGED_TAG, WORKFLOW_TAG_PREFIX, instance_tag  # noqa: E402
from providers.hetzner.labels import labels_from_tags  # noqa: E402
from workflows.server import ServerWorkflow  # noqa: E402

__all__ = ["SoakConfig", "SoakResult", "preset", "print_report", "run_soak"]

PROGRESS_EVERY = 30.0
QUOTA_SAMPLE_EVERY = 3.0
# Name -> tags of the instances seeded at each provider; seen from our side none is ours.
LOOKALIKES: dict[str, list[str]] = {
    "my-postgres": [],
    "server-db-1": [],
    "server-db-3": [MANAGED_TAG],
    "server-db-4": ["managed-by:other-tool", instance_tag("server-db-4")],
    "server-db-6": [MANAGED_TAG, WORKFLOW_TAG_PREFIX + "reconcile-fleet"],
}


@dataclass(frozen=True)
class SoakConfig:
    minutes: float  # of traffic and faults
    period: int
    margin: int
    idle_window: int  # DigitalOcean (per second): idle this long, a server goes
    live_per_provider: int
    max_servers: int  # each provider account's quota
    task_seconds: tuple[float, float]
    claim_seconds: tuple[float, float]
    faults: FaultLimits
    drain_natural: float  # seconds servers may drain at their deadlines before "now"
    drain_bound: float  # then every workflow must have finished within this
    reconcile_interval: int
    seed: int = 1
    workers: int = 3


def preset(
    quick: bool, seed: int = 1, workers: int = 3, minutes: float | None = None
) -> SoakConfig:
    if quick:
        config = SoakConfig(
            minutes=1.75,
            period=80,
            margin=40,
            idle_window=20,
            live_per_provider=3,
            max_servers=4,
            task_seconds=(3, 40),
            claim_seconds=(3, 30),
            faults=FaultLimits(gap=(2.0, 4.0), provider_armed=(10.0, 20.0)),
            drain_natural=15,
            drain_bound=90,
            reconcile_interval=30,
        )
    else:
        config = SoakConfig(
            minutes=30.0,
            period=120,
            margin=60,
            idle_window=30,
            live_per_provider=4,
            max_servers=5,
            task_seconds=(5, 40),
            claim_seconds=(5, 40),
            faults=FaultLimits(
                gap=(10.0, 30.0),
                mongo_frozen=(3.0, 10.0),
                mongo_down=(2.0, 5.0),
                temporal_down=(2.0, 5.0),
                provider_burst=(5.0, 15.0),
                provider_armed=(15.0, 40.0),
            ),
            drain_natural=150,
            drain_bound=300,
            reconcile_interval=60,
        )
    config = replace(config, seed=seed, workers=workers)
    return replace(config, minutes=minutes) if minutes is not None else config


@dataclass
class SoakResult:
    config: SoakConfig
    faults: Counter[str]
    fired: dict[str, str]  # armed kinds: how many of the armed triggers fired
    verdict: Verdict
    traffic: dict[str, Any]
    records: list[dict[str, Any]]
    log_dir: Path
    wall_seconds: float


# --------------------------------------------------------------------------- seeding


async def seed_unmanaged(emulators: Mapping[str, EmulatorAdmin]) -> dict[str, set[str]]:
    """Create the LOOKALIKES at every provider through its own API; ids per provider."""
    seeded: dict[str, set[str]] = {}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        for provider, emulator in emulators.items():
            ids = set()
            for name, tags in LOOKALIKES.items():
                ids.add(await _create(http, provider, emulator.api_url, name, tags))
            seeded[provider] = ids
    return seeded


async def _create(
    http: httpx.AsyncClient, provider: str, api: str, name: str, tags: list[str]
) -> str:
    spec = SPECS[provider]
    if provider == "vultr":
        body: dict[str, Any] = {"region": spec.region, "plan": spec.plan, "os_id": spec.os_id}
        body |= {"label": name, "tags": tags}
        response = await http.post(f"{api}/instances", json=body)
        response.raise_for_status()
        return str(response.json()["instance"]["id"])
    if provider == "hetzner":
        body = {"server_type": spec.plan, "location": spec.region, "image": str(spec.os_id)}
        body |= {"name": name, "labels": labels_from_tags(tags)}
        response = await http.post(f"{api}/servers", json=body)
        response.raise_for_status()
        return str(response.json()["server"]["id"])
    body = {"region": spec.region, "size": spec.plan, "image": spec.os_id, "name": name}
    body["tags"] = tags
    response = await http.post(f"{api}/droplets", json=body)
    response.raise_for_status()
    return str(response.json()["droplet"]["id"])


# --------------------------------------------------------------------------- running


def stack_options(config: SoakConfig) -> StackOptions:
    return StackOptions(
        billing_period_seconds=config.period,
        terminate_before_seconds=config.margin,
        boot_seconds=2.0,
        ready_poll_seconds=2.0,
        max_servers=config.max_servers,
        seed=config.seed,
        hetzner=True,
        hetzner_requests_per_second=1.0,
        hetzner_refill_per_second=2.0,
        digitalocean=True,
        digitalocean_requests_per_second=4.0,
        mongo_on_disk=True,
        temporal_on_disk=True,
        workers=config.workers,
        idle_window_seconds=config.idle_window,
        reconcile_interval_seconds=config.reconcile_interval,
    )


def emulators_of(stack: BenchStack) -> dict[str, EmulatorAdmin]:
    assert stack.hetzner is not None and stack.digitalocean is not None
    return {"vultr": stack.emulator, "hetzner": stack.hetzner, "digitalocean": stack.digitalocean}


async def live_instances(
    emulators: Mapping[str, EmulatorAdmin], seeded: Mapping[str, set[str]]
) -> dict[str, int]:
    """Our instances alive now at each provider, by its ledger."""
    out = {}
    for provider, emulator in emulators.items():
        rows = await emulator.ledger()
        ours = [
            r for r in rows if str(r.get("instance_id", r.get("server_id"))) not in seeded[provider]
        ]
        out[provider] = sum(r["deleted_at"] is None for r in ours)
    return out


async def watch(
    stack: BenchStack,
    emulators: Mapping[str, EmulatorAdmin],
    seeded: Mapping[str, set[str]],
    injector: Injector,
    samples: list[tuple[float, str, int]],
    began: float,
) -> None:
    """Samples the quota every few seconds and logs progress every PROGRESS_EVERY."""
    last_note = 0.0
    while True:
        try:
            live = await asyncio.wait_for(live_instances(emulators, seeded), 10)
            now = time.time()
            samples.extend((now, p, n) for p, n in live.items())
        except Exception:  # noqa: BLE001 - an emulator answering slowly: skip a sample
            live = {}
        elapsed = time.monotonic() - began
        if elapsed - last_note >= PROGRESS_EVERY:
            last_note = elapsed
            faults = dict(injector.counts())
            try:
                docs = await asyncio.wait_for(stack.read_model(), 10)
                states = Counter(str(d.get("state")) for d in docs.values())
            except Exception:  # noqa: BLE001 - MongoDB down just now
                states = Counter({"unknown (MongoDB did not answer)": 1})
            serving = sum(n for s, n in states.items() if s not in ("TERMINATED", "ERROR"))
            log(
                f"{elapsed:5.0f} s: live servers {serving} {dict(states)} "
                f"(instances {live}), faults so far {sum(faults.values())} {faults}"
            )
        await asyncio.sleep(QUOTA_SAMPLE_EVERY)


async def running_servers(stack: BenchStack) -> list[str]:
    query = "WorkflowType = 'ServerWorkflow' AND ExecutionStatus = 'Running'"
    return [wf.id async for wf in stack.client.list_workflows(query)]


async def drain(stack: BenchStack, traffic: Traffic, config: SoakConfig) -> dict[str, float]:
    """Let servers go at their deadlines for a while, terminate the rest now, and wait;
    workflow id -> seconds since its last event, for those still running after that."""
    give_up = time.monotonic() + config.drain_natural
    running = await running_servers(stack)
    while running and time.monotonic() < give_up:
        await asyncio.sleep(3)
        running = await running_servers(stack)
    if running:
        log(f"drain: terminating the {len(running)} still running now")
        for wf in running:
            name = wf.removeprefix("server-")
            traffic.record_termination(name, immediately=True)
            request = TerminationRequest(reason="soak over", immediately=True)
            try:
                await stack.handle(name).signal(ServerWorkflow.request_termination, request)
            except Exception as exc:  # noqa: BLE001 - ended meanwhile
                log(f"drain: {name}: {exc!r}")
    give_up = time.monotonic() + config.drain_bound
    while running and time.monotonic() < give_up:
        await asyncio.sleep(3)
        running = await running_servers(stack)
    stuck = {}
    for wf in running:
        events = await stack.history(wf.removeprefix("server-"))
        last = events[-1].event_time.seconds if events else 0
        stuck[wf] = time.time() - last
    return stuck


async def collect(
    stack: BenchStack,
    config: SoakConfig,
    seeded: dict[str, set[str]],
    traffic: Traffic,
    unfinished: dict[str, float],
    samples: list[tuple[float, str, int]],
) -> Evidence:
    emulators = emulators_of(stack)
    ledgers = {p: await e.ledger() for p, e in emulators.items()}
    requests = {p: await e.requests() for p, e in emulators.items()}
    statuses: dict[str, ServerStatus] = {}
    async for doc in stack.db["servers"].find({}):
        status = status_from_record(doc)
        statuses[status.name] = status
    names = [
        wf.id.removeprefix("server-")
        async for wf in stack.client.list_workflows("WorkflowType = 'ServerWorkflow'")
    ]
    histories = await stack.histories(sorted(set(names)))
    return Evidence(
        period=config.period,
        margin=config.margin,
        idle_window=config.idle_window,
        reconcile_interval=config.reconcile_interval,
        max_servers={p: stack.settings.max_servers_for(p) for p in emulators},
        ledgers=ledgers,
        requests=requests,
        seeded=seeded,
        statuses=statuses,
        histories=histories,
        unfinished=unfinished,
        tasks=traffic.tasks,
        terminations=traffic.terminations,
        quota_samples=samples,
    )


async def run_soak(config: SoakConfig) -> SoakResult:
    """The whole soak at one size: start, traffic and faults, drain, judge."""
    began = time.monotonic()
    rng = random.Random(config.seed)
    policy = ServerPolicy(
        billing_period_seconds=config.period,
        terminate_before_seconds=config.margin,
        ready_poll_seconds=2.0,
        readiness_timeout_seconds=300,
        idle_window_seconds=config.idle_window,
    )
    plan = TrafficPlan(
        policy=policy,
        live_per_provider=config.live_per_provider,
        task_seconds=config.task_seconds,
        claim_seconds=config.claim_seconds,
    )
    async with BenchStack(stack_options(config), "soak") as stack:
        emulators = emulators_of(stack)
        seeded = await seed_unmanaged(emulators)
        traffic = Traffic(stack, plan, random.Random(rng.random()))
        injector = Injector(stack, emulators, config.faults, random.Random(rng.random()))
        samples: list[tuple[float, str, int]] = []
        watcher = asyncio.create_task(watch(stack, emulators, seeded, injector, samples, began))
        log(f"soak: {config.minutes:g} min of traffic and faults (seed {config.seed})")
        traffic_task = asyncio.create_task(traffic.run())
        fault_task = asyncio.create_task(injector.run())
        try:
            await asyncio.sleep(config.minutes * 60)
            log("soak: faults off, jobs ending, pool stopping; draining")
            injector.stop()
            await fault_task
            await injector.settle()
            await traffic.wind_down()
            await traffic_task
            unfinished = await drain(stack, traffic, config)
            evidence = await collect(stack, config, seeded, traffic, unfinished, samples)
        finally:
            watcher.cancel()
            for task in (traffic_task, fault_task):
                task.cancel()
            await asyncio.gather(watcher, traffic_task, fault_task, return_exceptions=True)
        verdict = judge(evidence)
        records = [asdict(r) for r in injector.records]
        return SoakResult(
            config=config,
            faults=injector.counts(),
            fired=injector.fired(),
            verdict=verdict,
            traffic={
                "servers_started": len(traffic.started),
                "servers_seen": len(evidence.statuses),
                "jobs": Counter(t.kind for t in traffic.tasks),
                "terminations": len(traffic.terminations),
                "call_failures": traffic.errors,
                "final_states": Counter(str(s.state) for s in evidence.statuses.values()),
            },
            records=records,
            log_dir=stack.log_dir,
            wall_seconds=time.monotonic() - began,
        )


# --------------------------------------------------------------------------- report


def print_report(result: SoakResult) -> None:
    config = result.config
    print(
        f"\nsoak — {config.minutes:g} min, seed {config.seed}, {config.workers} workers, "
        f"period {config.period} s, margin {config.margin} s, quota {config.max_servers} "
        f"per provider; {result.wall_seconds:.0f} s wall\n"
    )
    print_table(
        ("fault", "count", "note"),
        [(k, result.faults.get(k, 0), result.fired.get(k, "")) for k in FAULT_KINDS],
    )
    measured = result.verdict.measured
    rows = [
        (name, measured.get(name, "-"), "VIOLATED" if result.verdict.violations.get(name) else "ok")
        for name in INVARIANTS
    ]
    rows.insert(2, ("duplicate instances created", measured.get("duplicate instances created"), ""))
    for extra in (
        "DigitalOcean worst lateness (s)",
        "quota peak sampled / quota",
        "quota peak from ledger / quota",
    ):
        rows.append((extra, measured.get(extra, "-"), ""))
    print_table(("invariant", "measured", "verdict"), rows)
    traffic = result.traffic
    print(
        f"traffic: {traffic['servers_seen']} servers ({traffic['servers_started']} started "
        f"directly), jobs {dict(traffic['jobs'])}, terminations {traffic['terminations']}, "
        f"final states {dict(traffic['final_states'])}, calls that failed through a fault "
        f"{traffic['call_failures'] or 0}"
    )
    if not result.verdict.ok:
        print("\nviolations:")
        for invariant, notes in result.verdict.violations.items():
            for note in notes:
                print(f"  {invariant}: {note}")
        for text in result.verdict.explanations.values():
            print("\n" + text)
    print(f"\nlogs in {result.log_dir}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the 3-minute size of the suite")
    parser.add_argument("--minutes", type=float, help="minutes of traffic and faults (30)")
    parser.add_argument("--seed", type=int, default=1, help="seed of traffic and faults")
    parser.add_argument("--workers", type=int, default=3, help="worker processes")
    return parser.parse_args()


async def run() -> int:
    args = parse_args()
    if os.environ.get("MONGO_URI"):
        print("error: unset MONGO_URI: the soak restarts its own database", file=sys.stderr)
        return 2
    if args.workers < 2:
        print("error: --workers must be at least 2 (one is killed at times)", file=sys.stderr)
        return 2
    config = preset(args.quick, args.seed, args.workers, args.minutes)
    size = "quick" if args.quick else "default"
    result = await run_soak(config)
    print_report(result)
    path = write_results(
        "soak",
        size,
        {
            "config": asdict(config),
            "faults": dict(result.faults),
            "armed_fired": result.fired,
            "fault_records": result.records,
            "measured": result.verdict.measured,
            "violations": result.verdict.violations,
            "explanations": result.verdict.explanations,
            "traffic": result.traffic,
            "wall_seconds": round(result.wall_seconds, 1),
        },
    )
    print(f"wrote {path}")
    return 0 if result.verdict.ok else 1


if __name__ == "__main__":
    run_main(run)
