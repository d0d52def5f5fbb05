"""Cost against peer policies: billed hours and job wait of our billing-aware termination
and of the idle-timeout and keep-alive policies other tools use, on the same job traces,
side by side in one stack, with an offline clairvoyant bound.

    .venv/bin/python bench/cost_policies.py [--quick | --full] [--hours H] [--period S]
        [--margin S] [--boot-seconds S] [--seed N] [--traces FILE] [--pick recent|paid-left]

Three traces are generated from --seed (bench/cost_model.py) and saved to
bench/results/cost_traces-<time>.json (and into the results JSON); --traces FILE replays
a saved file instead (rescaled to --period). One simulated hour is one billing period P
(60 s by default, so one simulated minute is one second):

- bursty: a CI-like day (quiet night; bursts of several to ~15 jobs of 3-20 minutes in
  working hours, irregular gaps, fewer at lunch and in the evening);
- steady: Poisson arrivals, 20-40 minute jobs, about three running at once;
- sparse: a handful of short jobs, 1-3 hours apart.

Every trace is replayed through the real system (bench/harness.py: Temporal dev server,
SecantusDB, the Vultr emulator over HTTP, `python worker.py`) once per policy, all 15
simulations at the same time in one stack. Each policy's replay starts --stagger seconds
(default P/6) after the previous one: all share one account's rate-limited Vultr queue
(25 requests/s), a burst of 15 new servers is about 100 calls, and simultaneous bursts
of four policies would wait for each other where separate deployments would not.
Policies (ServerPolicy fields):

- billing-aware (ours): the defaults; an idle server goes --margin before its next
  billing boundary, a busy one stays;
- terminate-when-idle: terminate_idle_at_deadline=False, max_idle_seconds=1;
- idle-5min / idle-10min: terminate_idle_at_deadline=False, max_idle_seconds = 5 or 10
  simulated minutes (SkyPilot autostop, GitLab runner IdleTime);
- never-terminate: terminate_idle_at_deadline=False and no idle limit.

The benchmark is the job scheduler, identical for every policy: at a job's arrival it
claims (the workflow's `claim` update, which refuses a server that is terminating or
draining) an idle server of that simulation, the most recently idle first (--pick
paid-left: the one with most paid time left), trying the next one on a refusal; with
none left it starts a new server workflow, claims it while it provisions, and the job
starts when it is READY. When the job's time is up it sends `finish_task`. A job waiting
for a boot keeps waiting for its own server even if another one frees up meanwhile.

At the end of the trace window (every job has ended by then; the generators leave at
least 5 simulated minutes), plus --drain seconds (default 0), every server of every
policy still alive is terminated at once (`request_termination`, immediately); so bills
count up to the end of the trace for all policies alike (billing-aware and idle-timeout
leftovers would have gone on their own, never-terminate's would have kept billing).

Measured per policy and trace: billed hours (the emulator ledger's units for the
simulation's instances, by label), servers created, job wait (start - arrival:
mean/p50/p95/max, and how many jobs waited for a boot), failed workflows and instances
left at the emulator (both must be 0). Compared with the clairvoyant (offline greedy)
schedule and a lower bound for zero-wait schedules (bench/cost_model.py). Targets:
billing-aware within 5 % of the clairvoyant bill on every trace, and at least 25 % fewer
billed hours than idle-10min on the bursty trace.

Sizes: --quick 3 simulated hours, default 12, --full 24 (P = 60 s: 3, 12, 24 minutes of
replay plus start-up and the end). Writes the JSON and a PNG (billed hours against job
wait, one panel per trace) to bench/results/.

`--windows` starts nothing: it replays the same traces offline at real time (one hour
= 3600 s; --boot-seconds is the real boot, default there 45 s) under two billing
models at one price, hourly (Vultr, Hetzner) and per second (DigitalOcean: at least
60 s and $0.01, hourly price = monthly / 672), with idle-window policies (delete W s
after a server goes idle: 0, 60, 300, 900 s, never) and billing-aware (ours), and prints
each policy's bill per trace and model and which is cheapest (bench/idle_windows.py).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import (  # noqa: E402
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError  # noqa: E402

from bench.cost_model import (  # noqa: E402
    TRACE_KINDS,
    Job,
    Schedule,
    TraceSet,
    clairvoyant,
    lower_bound,
    make_traces,
    peak_concurrency,
    periods,
)
from bench.harness import (  # noqa: E402
    FINAL_STATES,
    RESULTS_DIR,
    BenchStack,
    BenchTimeout,
    StackOptions,
    bounded_gather,
    distribution,
    fmt_shares,
    histogram_shares,
    log,
    parse_time,
    percentile,
    print_table,
    resolve_size,
    run_main,
    size_flags,
    write_results,
)
from bench.idle_windows import (  # noqa: E402
    BILLING_AWARE,
    MODELS,
    WINDOWS,
    PolicyCost,
    cheapest,
    label,
    replay,
)
from core.models import (  # noqa: E402
    ClaimRequest,
    ServerPolicy,
    ServerStatus,
    TaskSignal,
    TerminationRequest,
)
from workflows.server import ServerWorkflow  # noqa: E402

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"hours": 3.0},
    "default": {"hours": 12.0},
    "full": {"hours": 24.0},
}
WFT_QUEUED = "temporal_workflow_task_schedule_to_start_latency"
END_REASON = "trace over"
DEADLINE_REASON = "idle at billing deadline"  # the workflow's reason (workflows/server.py)
LEAVING = ("TERMINATING", "TERMINATED", "ERROR")
UPDATE_ERRORS = (WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError)
READY_WAIT_SECONDS = 180.0  # a server not READY by then fails its job (and is reported)
PROVISION_TRIES = 3
TARGET_VS_CLAIRVOYANT = 1.05
TARGET_SAVING_VS_IDLE10 = 0.25


# --------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class PolicySpec:
    key: str  # short, in server names
    label: str
    overrides: dict[str, Any]


def policies(period: int) -> list[PolicySpec]:
    def idle(minutes: float) -> int:
        return max(1, round(minutes / 60 * period))

    keep = {"terminate_idle_at_deadline": False}
    return [
        PolicySpec("aware", "billing-aware", {}),
        PolicySpec("idle0", "terminate-when-idle", {**keep, "max_idle_seconds": 1}),
        PolicySpec("idle5", "idle-5min", {**keep, "max_idle_seconds": idle(5)}),
        PolicySpec("idle10", "idle-10min", {**keep, "max_idle_seconds": idle(10)}),
        PolicySpec("never", "never-terminate", keep),
    ]


# --------------------------------------------------------------------------- tracking


@dataclass
class Server:
    name: str
    created: float  # the workflow start was requested (epoch s)
    ready: float | None = None  # READY in the workflow's timeline
    billing_start: float | None = None
    job: int | None = None  # the job running on it (or being claimed for)
    idle_since: float | None = None
    gone: bool = False
    jobs_run: int = 0


@dataclass
class JobRun:
    index: int
    arrival: float  # planned, epoch s
    duration: float
    dispatched: float | None = None  # when the dispatcher got to it
    start: float | None = None
    end: float | None = None  # finish_task acknowledged
    server: str | None = None
    booted: bool = False  # waited for a new server
    refusals: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def wait(self) -> float | None:
        return None if self.start is None else max(0.0, self.start - self.arrival)


class ReadyWatch:
    """Follows the read model: resolves each new server's READY time (or its failure)
    and notices idle servers that have started to go, for every simulation at once."""

    def __init__(self, stack: BenchStack) -> None:
        self.stack = stack
        self.pending: dict[str, asyncio.Future[tuple[float, float | None]]] = {}
        self.sims: list[Simulation] = []

    def expect(self, name: str) -> asyncio.Future[tuple[float, float | None]]:
        future = asyncio.get_running_loop().create_future()
        self.pending[name] = future
        return future

    async def run(self) -> None:
        tick = 0
        while True:
            tick += 1
            names = [n for n, f in self.pending.items() if not f.done()]
            # Every ~2 s also look at the idle servers: drop those that have started to go.
            idle = {
                s.name: s
                for sim in (self.sims if tick % 6 == 0 else [])
                for s in sim.servers
                if not s.gone and s.job is None
            }
            if names or idle:
                try:
                    docs = await self.stack.read_model(only=[*names, *idle])
                except Exception as exc:  # noqa: BLE001 - a slow read is retried
                    log(f"read model: {exc!r}")
                    docs = {}
                for name in names:
                    self._resolve(name, docs.get(name))
                for name, server in idle.items():
                    doc = docs.get(name)
                    if doc is not None and doc["state"] in LEAVING and server.job is None:
                        server.gone = True
            await asyncio.sleep(0.3)

    def _resolve(self, name: str, doc: dict[str, Any] | None) -> None:
        if doc is None:
            return
        future = self.pending[name]
        ready = [e["at"].timestamp() for e in doc.get("timeline", []) if e["state"] == "READY"]
        start = doc.get("billing_start")
        if ready:
            future.set_result((ready[0], start.timestamp() if start else None))
        elif doc["state"] in LEAVING:
            future.set_exception(RuntimeError(f"{name} ended {doc['state']} before READY"))


class Simulation:
    """One policy replaying one trace, with the benchmark as its job scheduler."""

    def __init__(
        self,
        stack: BenchStack,
        watch: ReadyWatch,
        kind: str,
        spec: PolicySpec,
        policy: ServerPolicy,
        jobs: list[Job],
        t0: float,
        args: argparse.Namespace,
    ) -> None:
        self.stack, self.watch, self.kind, self.spec, self.policy = stack, watch, kind, spec, policy
        self.prefix = f"cost-{kind}-{spec.key}"
        self.t0 = t0
        self.args = args
        self.jobs = [JobRun(i, t0 + a, d) for i, (a, d) in enumerate(jobs)]
        self.servers: list[Server] = []
        self.provision_failures: list[str] = []
        self.finish_refusals: list[str] = []
        self.busy_refusals: list[str] = []  # claims refused as busy: a bookkeeping bug
        self.running_at_end = 0
        self.terminated_at_end: list[str] = []
        self.ended_at: float | None = None

    @property
    def title(self) -> str:
        return f"{self.kind}/{self.spec.label}"

    # ---- dispatching

    def candidates(self) -> list[Server]:
        free = [s for s in self.servers if not s.gone and s.job is None and s.ready]
        if self.args.pick == "paid-left":
            now, period = time.time(), self.policy.billing_period_seconds

            def paid_left(s: Server) -> float:
                start = s.billing_start if s.billing_start is not None else s.created
                return period - ((now - start) % period)

            return sorted(free, key=lambda s: (-paid_left(s), -(s.idle_since or 0)))
        return sorted(free, key=lambda s: -(s.idle_since or 0))

    async def run_job(self, job: JobRun) -> None:
        await asyncio.sleep(max(0.0, job.arrival - time.time()))
        job.dispatched = time.time()
        task_id = f"{self.prefix}-job{job.index:04d}"
        server = await self._reuse(job, task_id)
        if server is None:
            server = await self._provision(job, task_id)
            if server is None:
                return
        job.server = server.name
        assert job.start is not None
        await asyncio.sleep(max(0.0, job.start + job.duration - time.time()))
        try:
            await self.stack.handle(server.name).execute_update(
                ServerWorkflow.finish_task, TaskSignal(task_id=task_id)
            )
        except UPDATE_ERRORS as exc:
            self.finish_refusals.append(f"{task_id} on {server.name}: {_why(exc)}")
            server.gone = True
        job.end = time.time()
        server.jobs_run += 1
        server.idle_since = job.end
        server.job = None

    async def _reuse(self, job: JobRun, task_id: str) -> Server | None:
        for server in self.candidates():
            if server.gone or server.job is not None:
                continue  # taken or gone while an earlier claim was in flight
            server.job = job.index
            refused = await self._claim(server, task_id)
            if refused is None:
                job.start = time.time()
                return server
            server.job = None
            job.refusals.append(f"{server.name}: {refused}")
            if refused.startswith("busy with"):
                self.busy_refusals.append(f"{task_id} on {server.name}: {refused}")
            else:
                server.gone = True
        return None

    async def _claim(self, server: Server, task_id: str) -> str | None:
        """None if the workflow accepted the claim, else why not."""
        try:
            result = await self.stack.handle(server.name).execute_update(
                ServerWorkflow.claim, ClaimRequest(task_id=task_id)
            )
        except UPDATE_ERRORS as exc:
            return _why(exc)
        return None if result.accepted else (result.reason or str(result.state))

    async def _provision(self, job: JobRun, task_id: str) -> Server | None:
        for _ in range(PROVISION_TRIES):
            server = Server(f"{self.prefix}-{len(self.servers):03d}", created=time.time())
            server.job = job.index
            self.servers.append(server)
            ready = self.watch.expect(server.name)
            await self.stack.start_servers([server.name], self.policy)
            refused = await self._claim(server, task_id)
            if refused is not None:
                self.provision_failures.append(f"{server.name}: claim refused: {refused}")
                server.gone = True
                continue
            try:
                ready_at, billing_start = await asyncio.wait_for(ready, READY_WAIT_SECONDS)
            except (TimeoutError, RuntimeError) as exc:
                self.provision_failures.append(f"{server.name}: {exc!r}")
                server.gone = True
                await self._terminate(server.name, "not ready for its job")
                continue
            server.ready, server.billing_start = ready_at, billing_start
            job.booted = True
            job.start = max(job.arrival, ready_at)
            return server
        job.error = f"no server after {PROVISION_TRIES} provisioning attempts"
        return None

    async def _terminate(self, name: str, reason: str) -> bool:
        request = TerminationRequest(reason=reason, immediately=True)
        try:
            await self.stack.handle(name).signal(ServerWorkflow.request_termination, request)
        except RPCError:
            return False  # already finished
        return True

    # ---- the whole replay

    async def run(self, window: float, drain: float) -> None:
        tasks = [asyncio.create_task(self.run_job(j)) for j in self.jobs]
        await asyncio.sleep(max(0.0, self.t0 + window + drain - time.time()))
        pending = [t for t in tasks if not t.done()]
        self.running_at_end = len(pending)
        if pending:
            log(f"{self.title}: {len(pending)} job(s) still running at the trace end; waiting")
            await asyncio.wait(pending, timeout=2 * self.policy.billing_period_seconds + 60)
        for task in tasks:
            if not task.done():
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for job, result in zip(self.jobs, results, strict=True):
            if isinstance(result, BaseException) and job.error is None:
                job.error = repr(result)
        self.ended_at = time.time()
        # Every server not known to be gone, by the read model rather than in-process
        # bookkeeping (a claim that timed out may still have been accepted).
        docs = await self.stack.read_model(only=[s.name for s in self.servers])
        live = [s.name for s in self.servers if docs.get(s.name, {}).get("state") not in LEAVING]
        sent = await bounded_gather((self._terminate(n, END_REASON) for n in live), 32)
        self.terminated_at_end = [n for n, ok in zip(live, sent, strict=True) if ok]


def _why(exc: BaseException) -> str:
    if isinstance(exc, WorkflowUpdateFailedError):
        return str(exc.cause or exc)
    if isinstance(exc, RPCError):
        return f"{exc.status.name}: {exc.message}"
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return "no answer (update timed out)"
    return repr(exc)


# --------------------------------------------------------------------------- analysis


def analyse(
    sim: Simulation,
    statuses: dict[str, ServerStatus | BaseException],
    ledger: list[dict[str, Any]],
    period: float,
) -> dict[str, Any]:
    rows_by_label: dict[str, list[dict[str, Any]]] = {}
    for row in ledger:
        rows_by_label.setdefault(row["label"], []).append(row)
    failed, reasons = [], Counter[str]()
    servers = []
    billed = instances = duplicates = tail = late = 0
    deadline_lag: list[float] = []
    margin = sim.policy.terminate_before_seconds
    last_end: dict[str, float] = {}
    for j in sim.jobs:
        if j.server is not None and j.start is not None:
            end = j.start + j.duration
            last_end[j.server] = max(last_end.get(j.server, end), end)
    for server in sim.servers:
        status = statuses.get(server.name)
        rows = rows_by_label.get(f"server-{server.name}", [])
        units = sum(int(r["units"]) for r in rows)
        billed += units
        instances += len(rows)
        duplicates += max(0, len(rows) - 1)
        reason, going_at = "", None
        # Periods paid after the server's last job ended (ledger billing start, to the
        # second): 0 for a server deleted in the period its last job ended in.
        start = parse_time(rows[0]["created_at"]) if rows else None
        if start is not None and server.name in last_end:
            tail += max(0, units - periods(last_end[server.name] - start, period))
        if isinstance(status, ServerStatus):
            if status.state != "TERMINATED":
                failed.append(f"{server.name}: {status.state} {status.error or ''}".strip())
            going = [e for e in status.timeline if e.state == "TERMINATING"]
            reason = going[0].reason if going else "never TERMINATING"
            going_at = going[0].at.timestamp() if going else None
            reasons[reason] += 1
            started = status.billing_start
            if reason == DEADLINE_REASON and started and going_at:
                # Deleted at a deadline (the last one before TERMINATING; the status keeps
                # no terminate_at once TERMINATED): billed past its boundary means late.
                since = going_at - started.timestamp()
                intended = max(1, math.floor((since + margin) / period))
                late += units > intended
                deadline_lag.append(since - (intended * period - margin))
        else:
            failed.append(f"{server.name}: {status!r}")
        servers.append(
            {
                "name": server.name,
                "created": server.created - sim.t0,
                "ready": None if server.ready is None else server.ready - sim.t0,
                "jobs": server.jobs_run,
                "units": units,
                "instances": len(rows),
                "terminated_because": reason,
                "billing_start": None if start is None else start - sim.t0,
                "last_job_end": last_end[server.name] - sim.t0 if server.name in last_end else None,
                "terminating": None if going_at is None else going_at - sim.t0,
            }
        )
    done = [j for j in sim.jobs if j.wait is not None]
    waits = [j.wait for j in done if j.wait is not None]
    booting = [s.ready - s.created for s in sim.servers if s.ready is not None]
    busy = sum(j.duration for j in done)
    scale = 60 / period  # seconds -> simulated minutes
    return {
        "trace": sim.kind,
        "policy": sim.spec.label,
        "policy_overrides": sim.spec.overrides,
        "jobs": len(sim.jobs),
        "jobs_failed": [f"job {j.index}: {j.error}" for j in sim.jobs if j.error],
        "servers_created": len(sim.servers),
        "instances_created": instances,
        "duplicate_instances": duplicates,
        "billed_hours": billed,
        "busy_hours": busy / period,
        "utilization": busy / (billed * period) if billed else math.nan,
        "wait_seconds": distribution(waits),
        "wait_sim_minutes": {
            "mean": _mean(waits) * scale,
            "p50": percentile(waits, 0.5) * scale,
            "p95": percentile(waits, 0.95) * scale,
            "max": max(waits, default=math.nan) * scale,
        },
        "jobs_waited_for_boot": sum(j.booted for j in sim.jobs),
        "request_to_ready_seconds": distribution(booting),
        "dispatch_lag_seconds": distribution(
            [j.dispatched - j.arrival for j in sim.jobs if j.dispatched is not None]
        ),
        "claims_refused": sum(len(j.refusals) for j in sim.jobs),
        "claims_refused_as_busy": sim.busy_refusals,
        "finish_refused": sim.finish_refusals,
        "provision_failures": sim.provision_failures,
        "jobs_running_at_trace_end": sim.running_at_end,
        "terminated_at_trace_end": reasons[END_REASON],
        "terminated_because": dict(reasons),
        "hours_paid_after_last_job": tail,
        "deleted_after_deadline_boundary": late,
        "deadline_to_terminating_seconds": distribution(deadline_lag),
        "failed_workflows": failed,
        "servers": servers,
        "job_runs": [
            {
                "arrival": round(j.arrival - sim.t0, 3),
                "duration": round(j.duration, 3),
                "wait": None if j.wait is None else round(j.wait, 3),
                "server": j.server,
                "booted": j.booted,
                "refusals": j.refusals,
            }
            for j in sim.jobs
        ],
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def bound_summary(jobs: list[Job], period: float, boot: float) -> dict[str, Any]:
    schedule: Schedule = clairvoyant(jobs, period, boot)
    return {
        "jobs": len(jobs),
        "peak_concurrency": peak_concurrency(jobs),
        "busy_hours": sum(d for _, d in jobs) / period,
        "clairvoyant_billed_hours": schedule.units,
        "clairvoyant_servers": schedule.servers,
        "lower_bound_billed_hours": lower_bound(jobs, period, boot),
    }


# --------------------------------------------------------------------------- output


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def print_report(
    size: str,
    args: argparse.Namespace,
    traces: TraceSet,
    results: list[dict[str, Any]],
    bounds: dict[str, dict[str, Any]],
    left: int,
    wft: dict[str, Any],
) -> dict[str, Any]:
    period = traces.period
    print(
        f"\ncost against peer policies — size {size}: {traces.hours:g} simulated hours, "
        f"billing period P = {period:g} s, margin {args.margin} s, boot {args.boot_seconds:g} s, "
        f"seed {traces.seed}, dispatcher picks the "
        f"{'most recently idle' if args.pick == 'recent' else 'most paid time left'} server, "
        f"policies' replays {args.stagger:g} s apart"
    )
    print(
        f"job wait in simulated minutes (1 sim. min = {period / 60:g} s); billed hours = "
        f"ledger units of the simulation's instances; servers still alive at the trace end "
        f"(+{args.drain:g} s) were terminated then, for every policy alike\n"
    )
    checks: dict[str, Any] = {}
    for kind in traces.traces:
        bound = bounds[kind]
        clair = bound["clairvoyant_billed_hours"]
        rows: list[tuple[Any, ...]] = []
        for r in (r for r in results if r["trace"] == kind):
            w = r["wait_sim_minutes"]
            rows.append(
                (
                    r["policy"],
                    r["servers_created"],
                    r["billed_hours"],
                    f"{r['billed_hours'] / clair:.0%}" if clair else "-",
                    f"{fmt(w['mean'])} / {fmt(w['p50'])} / {fmt(w['p95'])} / {fmt(w['max'])}",
                    f"{r['jobs_waited_for_boot']}/{r['jobs']}",
                    f"{r['utilization']:.0%}",
                    r["terminated_at_trace_end"],
                    len(r["failed_workflows"]) + len(r["jobs_failed"]),
                )
            )
        rows.append(
            (
                "clairvoyant (offline greedy)",
                bound["clairvoyant_servers"],
                clair,
                "100%",
                "0 (servers boot ahead)",
                "-",
                f"{bound['busy_hours'] / clair:.0%}" if clair else "-",
                "-",
                "-",
            )
        )
        lb = bound["lower_bound_billed_hours"]
        rows.append(
            ("lower bound", bound["peak_concurrency"], lb, f"{lb / clair:.0%}" if clair else "-")
            + ("-",) * 5
        )
        print_table(
            (
                "policy",
                "servers",
                "billed hours",
                "vs clairvoyant",
                "wait mean / p50 / p95 / max",
                "jobs that waited for a boot",
                "utilization",
                "ended at trace end",
                "failed",
            ),
            rows,
            f"{kind}: {bound['jobs']} jobs, {bound['busy_hours']:.1f} busy hours, peak "
            f"{bound['peak_concurrency']} at once",
        )

    by = {(r["trace"], r["policy"]): r for r in results}
    print("targets")
    for kind in traces.traces:
        aware = by.get((kind, "billing-aware"))
        clair = bounds[kind]["clairvoyant_billed_hours"]
        if aware is None or not clair:
            continue
        ratio = aware["billed_hours"] / clair
        met = ratio <= TARGET_VS_CLAIRVOYANT
        checks[f"{kind}_aware_vs_clairvoyant"] = {"ratio": ratio, "met": met}
        print(
            f"  {kind}: billing-aware {aware['billed_hours']} vs clairvoyant {clair} billed "
            f"hours = {ratio:.1%} (target <= {TARGET_VS_CLAIRVOYANT:.0%}): "
            f"{'met' if met else 'NOT met'}"
        )
    aware, idle10 = by.get(("bursty", "billing-aware")), by.get(("bursty", "idle-10min"))
    if aware and idle10 and idle10["billed_hours"]:
        saving = 1 - aware["billed_hours"] / idle10["billed_hours"]
        met = saving >= TARGET_SAVING_VS_IDLE10
        checks["bursty_saving_vs_idle10"] = {"saving": saving, "met": met}
        print(
            f"  bursty: billing-aware {aware['billed_hours']} vs idle-10min "
            f"{idle10['billed_hours']} billed hours = {saving:.1%} fewer (target >= "
            f"{TARGET_SAVING_VS_IDLE10:.0%}): {'met' if met else 'NOT met'}"
        )
        clair = bounds["bursty"]["clairvoyant_billed_hours"]
        checks["bursty_clairvoyant_saving_vs_idle10"] = 1 - clair / idle10["billed_hours"]
        print(
            f"    (for scale: the clairvoyant schedule, {clair} billed hours, is "
            f"{1 - clair / idle10['billed_hours']:.1%} below idle-10min on this trace)"
        )
    late = sum(
        r["deleted_after_deadline_boundary"] for r in results if r["policy"] == "billing-aware"
    )
    if late:
        print(
            f"  billing-aware servers deleted past the boundary their deadline was meant to beat: "
            f"{late} (one extra billed hour each; the deadline timer or the DELETE ran more than "
            f"the {args.margin} s margin late, see 'details')"
        )
    failed = sum(len(r["failed_workflows"]) for r in results)
    jobs_failed = sum(len(r["jobs_failed"]) for r in results)
    print(f"  failed workflows: {failed} (must be 0); failed jobs: {jobs_failed}")
    print(f"  instances left at the emulator: {left} (must be 0)")
    checks.update(failed_workflows=failed, failed_jobs=jobs_failed, instances_left=left)

    extras = []
    for r in results:
        notes = []
        if r["claims_refused"]:
            notes.append(f"{r['claims_refused']} claims refused (server leaving)")
        if r["claims_refused_as_busy"]:
            notes.append(f"{len(r['claims_refused_as_busy'])} refused as busy")
        if r["finish_refused"]:
            notes.append(f"{len(r['finish_refused'])} finish_task refused")
        if r["provision_failures"]:
            notes.append(f"{len(r['provision_failures'])} provisioning failures")
        if r["jobs_running_at_trace_end"]:
            notes.append(f"{r['jobs_running_at_trace_end']} jobs running at the trace end")
        if r["duplicate_instances"]:
            notes.append(f"{r['duplicate_instances']} duplicate instances")
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(r["terminated_because"].items()))
        lag = r["deadline_to_terminating_seconds"]
        extras.append(
            (
                f"{r['trace']}/{r['policy']}",
                reasons,
                r["hours_paid_after_last_job"],
                f"{fmt(lag.get('p50', math.nan))} / {fmt(lag.get('max', math.nan))}; "
                f"{r['deleted_after_deadline_boundary']} late"
                if lag.get("n")
                else "-",
                f"{fmt(r['request_to_ready_seconds'].get('p50', math.nan))} / "
                f"{fmt(r['request_to_ready_seconds'].get('max', math.nan))}",
                f"{fmt(r['dispatch_lag_seconds'].get('p99', math.nan), 2)} / "
                f"{fmt(r['dispatch_lag_seconds'].get('max', math.nan), 2)}",
                "; ".join(notes) or "-",
            )
        )
    print()
    print_table(
        (
            "simulation",
            "why servers went",
            "hours paid after last job",
            "deadline -> TERMINATING p50 / max (s); deleted past the boundary",
            "request -> READY p50 / max (s)",
            "dispatch lag p99 / max (s)",
            "notes",
        ),
        extras,
        "details",
    )
    print(f"workflow tasks queued (worker lag): {fmt_shares(wft)}")
    return checks


def plot(
    path: Path, traces: TraceSet, results: list[dict[str, Any]], bounds: dict[str, Any]
) -> None:
    """Billed hours against job wait, one panel per trace: per policy a filled marker at
    the mean wait and a hollow one at p95; the clairvoyant schedule (zero wait) as a
    star, the lower bound as a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(traces.traces)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 5.0), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "osD^v<>"
    labels = list(dict.fromkeys(r["policy"] for r in results))
    for ax, kind in zip(axes[0], kinds, strict=True):
        for r in (r for r in results if r["trace"] == kind):
            i = labels.index(r["policy"])
            w, color, marker = r["wait_sim_minutes"], colors[i % len(colors)], markers[i % 7]
            y = r["billed_hours"]
            ax.plot([w["mean"], w["p95"]], [y, y], color=color, linewidth=1, alpha=0.5)
            ax.scatter([w["mean"]], [y], color=color, marker=marker, s=55, zorder=3)
            ax.scatter(
                [w["p95"]], [y], facecolors="none", edgecolors=color, marker=marker, s=55, zorder=3
            )
        bound = bounds[kind]
        ax.scatter(
            [0], [bound["clairvoyant_billed_hours"]], color="black", marker="*", s=110, zorder=3
        )
        ax.axhline(bound["lower_bound_billed_hours"], color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{kind}: {bound['jobs']} jobs, peak {bound['peak_concurrency']} at once")
        ax.set_xlabel("job wait, simulated minutes (filled: mean, hollow: p95)")
        ax.set_ylabel("billed hours")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=-0.3)
        ax.grid(alpha=0.3)
    handles = [
        plt.Line2D([], [], color=colors[i % len(colors)], marker=markers[i % 7], linestyle="")
        for i in range(len(labels))
    ]
    handles += [
        plt.Line2D([], [], color="black", marker="*", markersize=10, linestyle=""),
        plt.Line2D([], [], color="grey", linestyle=":"),
    ]
    fig.legend(
        handles,
        [*labels, "clairvoyant (offline greedy)", "lower bound"],
        loc="lower center",
        ncol=len(labels) + 2,
        frameon=False,
    )
    fig.suptitle(
        f"cost against job wait per termination policy ({traces.hours:g} simulated hours, "
        f"P = {traces.period:g} s)"
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size_flags(parser)
    parser.add_argument("--hours", type=float, help="simulated hours (billing periods)")
    parser.add_argument("--period", type=int, default=60, help="billing period P (s)")
    parser.add_argument(
        "--margin", type=int, help="terminate before boundary (s; default 3, --windows: 60)"
    )
    parser.add_argument(
        "--boot-seconds", type=float, help="emulator boot time (default 2; --windows: 45)"
    )
    parser.add_argument("--ready-poll", type=float, default=1.0, help="readiness poll (s)")
    parser.add_argument("--seed", type=int, default=1, help="trace seed")
    parser.add_argument("--traces", type=Path, help="replay a saved cost_traces-*.json")
    parser.add_argument(
        "--pick",
        choices=("recent", "paid-left"),
        default="recent",
        help="which idle server a job gets: most recently idle, or most paid time left",
    )
    parser.add_argument(
        "--stagger", type=float, help="seconds between the policies' replays (default P/6)"
    )
    parser.add_argument(
        "--drain", type=float, default=0.0, help="seconds after the trace end before cleanup"
    )
    parser.add_argument(
        "--kinds", default=",".join(TRACE_KINDS), help="traces to replay (comma-separated)"
    )
    parser.add_argument(
        "--monthly", type=float, default=6.0, help="--windows: the plan's monthly price ($)"
    )
    parser.add_argument(
        "--windows",
        action="store_true",
        help="offline: idle windows under hourly and per-second billing (starts nothing)",
    )
    return parser.parse_args()


def window_costs(
    jobs: list[Job], hours: float, boot: float, margin: float, monthly: float
) -> dict[str, list[PolicyCost]]:
    """Per billing model, the bill of every idle window and of billing-aware (ours)."""
    end, hourly = hours * 3600, monthly / 672
    policies: list[float | str | None] = [*WINDOWS, BILLING_AWARE]
    return {
        name: [
            replay(jobs, p, model, boot=boot, end=end, margin=margin, hourly=hourly)
            for p in policies
        ]
        for name, model in MODELS.items()
    }


def print_windows(traces: TraceSet, boot: float, margin: float, monthly: float) -> dict[str, Any]:
    """The offline table: one row per trace and billing model."""
    headers = ["trace", "billing", *(label(w) for w in WINDOWS), BILLING_AWARE, "cheapest"]
    rows, out = [], {}
    for kind, jobs in traces.traces.items():
        for model, costs in window_costs(jobs, traces.hours, boot, margin, monthly).items():
            best = cheapest(costs)
            rows.append(
                (
                    f"{kind} ({len(jobs)} jobs)",
                    model,
                    *(f"${c.cost:.3f} ({c.servers})" for c in costs),
                    best.policy,
                )
            )
            out[f"{kind}/{model}"] = [c.__dict__ for c in costs]
    print(
        f"\nidle windows — {traces.hours:g} h traces (seed {traces.seed}) at real time, "
        f"boot {boot:g} s, ${monthly:g}/month at {monthly:g}/672 an hour; hourly: every "
        f"started hour (margin {margin:g} s for billing-aware); per-second: at least 60 s "
        "and $0.01\n"
    )
    print_table(headers, rows, "bill (servers created = jobs that waited for a boot)")
    return out


def run_windows(args: argparse.Namespace, hours: float) -> int:
    traces = (
        TraceSet.load(args.traces, 3600) if args.traces else make_traces(args.seed, hours, 3600)
    )
    boot = 45.0 if args.boot_seconds is None else args.boot_seconds
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    traces.traces = {k: v for k, v in traces.traces.items() if k in kinds}
    margin = 60.0 if args.margin is None else float(args.margin)
    out = print_windows(traces, boot, margin, args.monthly)
    path = write_results(
        "cost_windows", f"{hours:g} h", {"args": vars(args), "boot": boot, "costs": out}
    )
    print(f"wrote {path}")
    return 0


async def run() -> int:
    args = parse_args()
    size, sizes = resolve_size(args, PRESETS)
    if args.windows:
        return run_windows(args, float(sizes["hours"]))
    # The live defaults are sized for a 60 s period.
    if args.boot_seconds is None:
        args.boot_seconds = 2.0
    if args.margin is None:
        args.margin = 3
    period = args.period
    if args.traces:
        traces = TraceSet.load(args.traces, period)
        size += f", traces from {args.traces}"
    else:
        traces = make_traces(args.seed, float(sizes["hours"]), period)
    if args.stagger is None:
        args.stagger = period / 6
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    traces.traces = {k: v for k, v in traces.traces.items() if k in kinds}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    traces_path = RESULTS_DIR / f"cost_traces-{stamp}.json"
    traces.save(traces_path)
    specs = policies(period)
    bounds = {k: bound_summary(v, period, args.boot_seconds) for k, v in traces.traces.items()}
    log(
        f"size {size}: {traces.hours:g} simulated hours of P = {period} s; traces "
        + ", ".join(
            f"{k} {b['jobs']} jobs (peak {b['peak_concurrency']})" for k, b in bounds.items()
        )
        + f"; saved to {traces_path}"
    )
    options = StackOptions(
        billing_period_seconds=period,
        terminate_before_seconds=args.margin,
        boot_seconds=args.boot_seconds,
        ready_poll_seconds=args.ready_poll,
        seed=args.seed,
    )
    async with BenchStack(options, "cost-policies") as stack:
        base = options.policy().model_dump()
        watch = ReadyWatch(stack)
        begin = time.time() + 3.0
        sims = [
            Simulation(
                stack,
                watch,
                kind,
                spec,
                ServerPolicy(**{**base, **spec.overrides}),
                jobs,
                begin + i * args.stagger,
                args,
            )
            for i, spec in enumerate(specs)
            for kind, jobs in traces.traces.items()
        ]
        watch.sims = sims
        wft_before = await stack.worker_histogram(WFT_QUEUED, stack.TASK_QUEUE)
        watcher = asyncio.create_task(watch.run())
        progress = asyncio.create_task(report_progress(sims, traces.window))
        log(
            f"replaying {len(sims)} simulations ({len(specs)} policies x {len(traces.traces)} "
            f"traces), about {(traces.window + len(specs) * args.stagger) / 60:.1f} minutes"
        )
        try:
            await asyncio.gather(*(sim.run(traces.window, args.drain) for sim in sims))
        finally:
            for task in (watcher, progress):
                task.cancel()
            await asyncio.gather(watcher, progress, return_exceptions=True)
        names = [s.name for sim in sims for s in sim.servers]
        log(f"trace over; waiting for all {len(names)} server workflows to finish")
        try:
            await stack.wait_for_states(names, FINAL_STATES, 300, "servers finished")
        except BenchTimeout as exc:
            log(f"{exc}; reporting what finished")
        docs = await stack.read_model(only=names)
        finished = [n for n in names if docs.get(n, {}).get("state") in FINAL_STATES]
        statuses: dict[str, ServerStatus | BaseException] = {
            n: RuntimeError(f"stuck in {docs.get(n, {}).get('state', 'NOT STARTED')}")
            for n in names
        }
        statuses.update(await stack.results(finished))
        ledger = await stack.emulator.ledger()
        left = sum(row["deleted_at"] is None for row in ledger)
        wft = histogram_shares(
            wft_before, await stack.worker_histogram(WFT_QUEUED, stack.TASK_QUEUE)
        )
        worker_log = stack.worker_log_counts()

    results = [analyse(sim, statuses, ledger, period) for sim in sims]
    results.sort(
        key=lambda r: (kinds.index(r["trace"]), [s.label for s in specs].index(r["policy"]))
    )
    checks = print_report(size, args, traces, results, bounds, left, wft)
    path = write_results(
        "cost_policies",
        size,
        {
            "args": vars(args),
            "period": period,
            "end_of_trace": (
                f"servers alive {args.drain:g} s after the trace window ended were terminated "
                "at once (request_termination, immediately), for every policy"
            ),
            "policies": [{"label": s.label, "key": s.key, "overrides": s.overrides} for s in specs],
            "traces_file": str(traces_path),
            "traces": traces.to_json(),
            "bounds": bounds,
            "checks": checks,
            "results": results,
            "instances_left": left,
            "workflow_task_schedule_to_start": wft,
            "worker_log": worker_log,
        },
    )
    png = path.with_suffix(".png")
    plot(png, traces, results, bounds)
    print(f"\nwrote {path}\nplot  {png}\ntraces {traces_path}")
    failed = checks["failed_workflows"] or checks["failed_jobs"] or left
    return 1 if failed else 0


async def report_progress(sims: list[Simulation], window: float) -> None:
    begin = min(s.t0 for s in sims)
    while True:
        await asyncio.sleep(30)
        started = sum(j.start is not None for s in sims for j in s.jobs)
        total = sum(len(s.jobs) for s in sims)
        live = sum(not srv.gone for s in sims for srv in s.servers)
        log(
            f"{(time.time() - begin) / window:.0%} of the trace: {started}/{total} jobs "
            f"started, {sum(len(s.servers) for s in sims)} servers created, ~{live} alive"
        )


if __name__ == "__main__":
    run_main(run)
