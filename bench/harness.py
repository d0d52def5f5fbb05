"""Shared setup for the lifecycle benchmarks: a whole local stack, started and stopped
by the benchmark itself, plus the measuring helpers they have in common.

`BenchStack` starts the Temporal dev server (headless, free ports, the custom search
attributes), SecantusDB in memory, the Vultr emulator and one `python worker.py`
process configured through its environment, exactly as an operator would run it. The
benchmark drives it as a client would: it starts server workflows, signals and queries
them, reads the fleet read model in MongoDB, and reads the emulator's admin routes
(request log, ledger, faults). Everything it started is stopped on exit, also on error
or Ctrl-C, and all state lives in memory or in a temporary directory.

Sizes: every benchmark has a default sized for a shared 2-core machine (about ten
minutes at most), `--quick` for a smoke run, and `--full` for the sizes named in the
issue; explicit flags override the chosen preset, and the output names the size run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
from pymongo import AsyncMongoClient
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from activities.fleet_store import SERVERS_COLLECTION  # noqa: E402
from client.connection import connect_temporal  # noqa: E402
from client.fleet import start_server  # noqa: E402
from core.models import (  # noqa: E402
    ServerInput,
    ServerPolicy,
    ServerSpec,
    ServerStatus,
    TaskSignal,
    TerminationRequest,
)
from core.settings import Settings, load_settings, settings_environment  # noqa: E402
from devstack.components import (  # noqa: E402
    emulator_process,
    mongo_process,
    temporal_process,
    worker_process,
)
from devstack.procs import ManagedProcess, free_port  # noqa: E402
from workflows.server import ServerWorkflow  # noqa: E402

__all__ = [
    "FINAL_STATES",
    "RESULTS_DIR",
    "ROOT",
    "DELETE_ROUTE",
    "ApiRequest",
    "BenchStack",
    "BenchTimeout",
    "Deletion",
    "EmulatorAdmin",
    "StackOptions",
    "bounded_gather",
    "compact_history",
    "distribution",
    "deletions",
    "event_name",
    "first_deadline_units",
    "fmt_dist",
    "fmt_shares",
    "histogram_shares",
    "log",
    "machine_info",
    "parse_time",
    "percentile",
    "print_table",
    "resolve_size",
    "run_main",
    "size_flags",
    "state_marks",
    "write_results",
]

RESULTS_DIR = ROOT / "bench" / "results"
API_KEY = "bench-key-not-a-secret"  # the emulator accepts any non-empty token
FINAL_STATES = frozenset({"TERMINATED", "ERROR"})
SPEC = ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284)

T = TypeVar("T")


class BenchTimeout(RuntimeError):
    """A wait ran past its bound; the message says what was still pending."""


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- sizes


def size_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="smoke-test size (a few minutes)")
    group.add_argument("--full", action="store_true", help="the issue's full size (long)")


def resolve_size(
    args: argparse.Namespace, presets: Mapping[str, Mapping[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """The preset named by --quick/--full (else "default"), with explicit flags on top.

    Flags that override a preset must default to None in the parser."""
    size = "quick" if args.quick else "full" if args.full else "default"
    values = dict(presets[size])
    for key in values:
        given = getattr(args, key, None)
        if given is not None:
            values[key] = given
    overridden = [k for k in presets[size] if getattr(args, k, None) is not None]
    if overridden:
        size += " (overridden: " + ", ".join(overridden) + ")"
    return size, values


# --------------------------------------------------------------------------- emulator


@dataclass(frozen=True)
class ApiRequest:
    """One /v2 request from the emulator's log; `time` is when it arrived (epoch s)."""

    method: str
    path: str
    route: str | None
    status: int
    time: float
    dropped: bool

    @property
    def instance_id(self) -> str | None:
        """The instance a request names in its path, if any."""
        parts = self.path.split("/")
        # /v2/instances/{id}[/action]
        if len(parts) >= 4 and parts[2] == "instances" and parts[3]:
            return parts[3]
        return None

    @property
    def route_name(self) -> str:
        return self.route or f"{self.method} (unknown route)"


class EmulatorAdmin:
    """The emulator's admin routes (never rate-limited, not in the request log)."""

    def __init__(self, base: str, api_prefix: str = "/v2") -> None:
        self.base = base
        self.api_url = f"{base}{api_prefix}"
        self._http = httpx.AsyncClient(base_url=base, timeout=60)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    async def requests(self) -> list[ApiRequest]:
        body = await self._call("GET", "/admin/requests")
        return [
            ApiRequest(
                r["method"], r["path"], r["route"], int(r["status"]), float(r["time"]), r["dropped"]
            )
            for r in body["requests"]
        ]

    async def ledger(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/admin/ledger"))["ledger"])

    async def set_faults(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return dict(await self._call("POST", "/admin/faults", json=dict(config)))

    async def faults(self) -> dict[str, Any]:
        """The fault configuration in force; counts show what remains of each."""
        return dict(await self._call("GET", "/admin/faults"))

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/admin/faults")

    async def reset(self) -> None:
        await self._call("POST", "/admin/reset")

    async def config(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/admin/config"))


def peak_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """Most requests that arrived within any `window` seconds."""
    ordered, peak, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def parse_time(text: str | None) -> float | None:
    """An ISO timestamp from the emulator or the read model as epoch seconds."""
    if text is None:
        return None
    return datetime.fromisoformat(text).timestamp()


DELETE_ROUTE = "DELETE /v2/instances/{instance-id}"
# READY this close before a deadline: the workflow may see the deadline as already
# past once its READY bookkeeping is done, and rightly keep the server another period.
AMBIGUOUS_READY_SECONDS = 1.0


@dataclass(frozen=True)
class Deletion:
    """The DELETE requests for one instance, from the request log."""

    first_attempt: float
    deleted: float | None  # arrival of the first 204, plus the latency injected before it
    attempts: int


def deletions(requests: Iterable[ApiRequest], latency: float = 0.0) -> dict[str, Deletion]:
    """Per instance id. `latency` is the DELETE route's injected latency in seconds: the
    log records arrival, the emulator deletes after the delay (the ledger's deleted_at
    is shown only to the second)."""
    seen: dict[str, list[ApiRequest]] = {}
    for r in requests:
        if r.route == DELETE_ROUTE and r.instance_id:
            seen.setdefault(r.instance_id, []).append(r)
    out = {}
    for instance, tries in seen.items():
        done = [r.time + latency for r in tries if r.status == 204]
        out[instance] = Deletion(tries[0].time, done[0] if done else None, len(tries))
    return out


def first_deadline_units(
    billing_start: float, ready_at: float, period: float, margin: float
) -> tuple[int, bool]:
    """Periods billed when a server READY at `ready_at` goes at its first deadline
    (boundary - margin) after READY; and whether READY came within
    AMBIGUOUS_READY_SECONDS of that deadline (then one more period is right too)."""
    k = max(1, math.floor((ready_at - billing_start + margin) / period) + 1)
    return k, billing_start + k * period - margin - ready_at < AMBIGUOUS_READY_SECONDS


# --------------------------------------------------------------------------- stack


@dataclass(frozen=True)
class StackOptions:
    billing_period_seconds: int
    terminate_before_seconds: int
    boot_seconds: float
    rate_limit: int = 30  # emulator: requests/s per client before 429 (0: off)
    vultr_requests_per_second: float = 25.0  # the worker's Vultr task-queue rate limit
    # The account quota (its slot documents are created only as holders need them).
    max_servers: int = 2_000
    max_concurrent_terminations: int = 30
    ready_poll_seconds: float = 5.0  # policy: readiness polling pace
    readiness_timeout_seconds: int = 900
    seed: int = 1
    # A Hetzner emulator beside the Vultr one, served on the worker's `<queue>-hetzner`.
    hetzner: bool = False
    hetzner_requests_per_second: float = 0.9  # the worker's Hetzner task-queue rate limit
    hetzner_rate_limit: int = 3600  # emulator: the project's bucket of requests
    hetzner_refill_per_second: float = 1.0  # emulator: what the bucket regains a second
    # A DigitalOcean emulator too (it bills real seconds), on `<queue>-digitalocean`.
    digitalocean: bool = False
    digitalocean_requests_per_second: float = 3.0  # the worker's DigitalOcean queue limit
    digitalocean_rate_limit: int = 0  # emulator: requests a minute before 429 (0: off)
    temporal_dynamic_config: dict[str, str] = field(default_factory=dict)
    delete_planner: bool = True  # DELETE_PLANNER: clustered deletes moved within budget
    # The embedded SecantusDB on disk (in the log directory), so that it can be stopped
    # and started again with its data; in memory otherwise.
    mongo_on_disk: bool = False
    # `python worker.py` processes on the same queue and database (each its metrics port).
    workers: int = 1
    # The dev server's state in a SQLite file, so that it can be restarted with it.
    temporal_on_disk: bool = False
    # Worker settings left at the worker's defaults when None.
    idle_window_seconds: int | None = None  # IDLE_WINDOW_SECONDS (per-second servers)
    reconcile_interval_seconds: int | None = None  # RECONCILE_INTERVAL_SECONDS
    worker_max_cached_workflows: int | None = None  # WORKER_MAX_CACHED_WORKFLOWS

    def policy(self) -> ServerPolicy:
        return ServerPolicy(
            billing_period_seconds=self.billing_period_seconds,
            terminate_before_seconds=self.terminate_before_seconds,
            ready_poll_seconds=self.ready_poll_seconds,
            readiness_timeout_seconds=self.readiness_timeout_seconds,
        )


class BenchStack:
    """`async with BenchStack(options, "name") as stack:` runs one whole local stack."""

    TASK_QUEUE = "bench-servers"

    def __init__(self, options: StackOptions, name: str) -> None:
        self.options = options
        self.name = name
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self._procs: list[ManagedProcess] = []
        self.worker: ManagedProcess | None = None  # the first of `workers`
        self.workers: list[ManagedProcess] = []
        self.temporal: ManagedProcess | None = None
        self.mongo: ManagedProcess | None = None  # the embedded one (None with MONGO_URI)
        self.client: Client
        self.settings: Settings
        self.emulator: EmulatorAdmin
        self.hetzner: EmulatorAdmin | None = None
        self.digitalocean: EmulatorAdmin | None = None
        self._mongo_frozen = False
        self._mongo: AsyncMongoClient[Any] | None = None
        self.mongo_db = "bench"

    # ---- lifecycle

    async def __aenter__(self) -> BenchStack:
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _start(self) -> None:
        opts = self.options
        emulator_port, temporal_port = free_port(), free_port()
        emulator = emulator_process(
            emulator_port,
            self.log_dir / "emulator.log",
            billing_period_seconds=opts.billing_period_seconds,
            boot_seconds=opts.boot_seconds,
            rate_limit=opts.rate_limit,
            seed=opts.seed,
        )
        self.temporal = temporal_process(
            temporal_port,
            free_port(),
            self.log_dir / "temporal.log",
            headless=True,
            dynamic_config=opts.temporal_dynamic_config,
            db_filename=self.log_dir / "temporal.db" if opts.temporal_on_disk else None,
        )
        self._procs += [emulator, self.temporal]
        hetzner_port = free_port()
        if opts.hetzner:
            self._procs.append(
                emulator_process(
                    hetzner_port,
                    self.log_dir / "hetzner-emulator.log",
                    provider="hetzner",
                    billing_period_seconds=opts.billing_period_seconds,
                    boot_seconds=opts.boot_seconds,
                    rate_limit=opts.hetzner_rate_limit,
                    seed=opts.seed,
                    extra_args=[
                        "--rate-limit-refill-per-second",
                        str(opts.hetzner_refill_per_second),
                    ],
                )
            )
        digitalocean_port = free_port()
        if opts.digitalocean:
            self._procs.append(
                emulator_process(
                    digitalocean_port,
                    self.log_dir / "digitalocean-emulator.log",
                    provider="digitalocean",
                    boot_seconds=opts.boot_seconds,
                    rate_limit=opts.digitalocean_rate_limit,
                    seed=opts.seed,
                    extra_args=["--rate-limit-hourly", "0"],
                )
            )
        mongo_uri = os.environ.get("MONGO_URI")
        if mongo_uri:
            self.mongo_db = f"bench_{self.name.replace('-', '_')}_{int(time.time())}"
        else:
            mongo_port = free_port()
            storage = self.log_dir / "mongo-data" if opts.mongo_on_disk else ":memory:"
            self.mongo = mongo_process(mongo_port, storage, self.log_dir / "mongo.log")
            self._procs.append(self.mongo)
            mongo_uri = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
        log(f"starting Temporal, the emulator and {self.database} (logs in {self.log_dir})")
        await asyncio.gather(*(asyncio.to_thread(p.start, 60.0) for p in self._procs))

        base = f"http://127.0.0.1:{emulator_port}"
        self.emulator = EmulatorAdmin(base)
        hetzner: dict[str, Any] = {}
        if opts.hetzner:
            self.hetzner = EmulatorAdmin(f"http://127.0.0.1:{hetzner_port}", "/v1")
            hetzner = {
                "hcloud_token": API_KEY,
                "hcloud_api_url": self.hetzner.api_url,
                "hetzner_requests_per_second": opts.hetzner_requests_per_second,
            }
        digitalocean: dict[str, Any] = {}
        if opts.digitalocean:
            self.digitalocean = EmulatorAdmin(f"http://127.0.0.1:{digitalocean_port}", "/v2")
            digitalocean = {
                "digitalocean_token": API_KEY,
                "digitalocean_api_url": self.digitalocean.api_url,
                "digitalocean_requests_per_second": opts.digitalocean_requests_per_second,
            }
        optional: dict[str, Any] = {}
        if opts.idle_window_seconds is not None:
            optional["idle_window_seconds"] = opts.idle_window_seconds
        if opts.reconcile_interval_seconds is not None:
            optional["reconcile_interval_seconds"] = opts.reconcile_interval_seconds
        if opts.worker_max_cached_workflows is not None:
            optional["worker_max_cached_workflows"] = opts.worker_max_cached_workflows
        metrics_port = free_port()
        self.settings = load_settings(
            **hetzner,
            **digitalocean,
            **optional,
            vultr_api_key=API_KEY,
            vultr_api_url=self.emulator.api_url,
            vultr_requests_per_second=opts.vultr_requests_per_second,
            temporal_address=f"127.0.0.1:{temporal_port}",
            temporal_namespace="default",
            temporal_task_queue=self.TASK_QUEUE,
            mongo_uri=mongo_uri,
            mongo_db=self.mongo_db,
            billing_period_seconds=opts.billing_period_seconds,
            terminate_before_seconds=opts.terminate_before_seconds,
            max_servers=opts.max_servers,
            max_concurrent_terminations=opts.max_concurrent_terminations,
            delete_planner="on" if opts.delete_planner else "off",
            metrics_port=metrics_port,
            payload_encryption_key=None,
        )
        ports = [metrics_port] + [free_port() for _ in range(opts.workers - 1)]
        self.workers = [
            worker_process(
                self.log_dir / ("worker.log" if i == 0 else f"worker-{i}.log"),
                self.worker_env() | {"METRICS_PORT": str(port)},
                port,
            )
            for i, port in enumerate(ports)
        ]
        self.worker = self.workers[0]
        self._procs += self.workers
        log(f"starting {opts.workers} worker process(es) (python worker.py)")
        await asyncio.gather(*(asyncio.to_thread(w.start, 60.0) for w in self.workers))
        self.client = await self._connect()
        self._mongo = AsyncMongoClient(mongo_uri, tz_aware=True)

    async def add_worker(self, name: str) -> ManagedProcess:
        """Another `python worker.py` on the same queues and database, started (its own
        metrics port); stopped with the stack."""
        port = free_port()
        env = self.worker_env() | {"METRICS_PORT": str(port)}
        worker = worker_process(self.log_dir / f"{name}.log", env, port)
        self._procs.append(worker)
        self.workers.append(worker)
        await asyncio.to_thread(worker.start, 60.0)
        return worker

    def worker_env(self) -> dict[str, str]:
        """The worker's configuration, as environment variables (how operators set it);
        an empty PAYLOAD_ENCRYPTION_KEY keeps one in the environment or .env out."""
        return settings_environment(self.settings) | {"PAYLOAD_ENCRYPTION_KEY": ""}

    async def _connect(self) -> Client:
        last: Exception | None = None
        for _ in range(30):
            try:
                return await connect_temporal(self.settings)
            except ConnectionError as exc:
                last = exc
                await asyncio.sleep(1)
        raise RuntimeError(f"the benchmark could not connect to its dev server: {last}")

    @property
    def database(self) -> str:
        if os.environ.get("MONGO_URI"):
            return "MongoDB at MONGO_URI"
        return "SecantusDB on disk" if self.options.mongo_on_disk else "SecantusDB in memory"

    async def _stop(self) -> None:
        if self._mongo is not None:
            if os.environ.get("MONGO_URI"):
                await self._mongo.drop_database(self.mongo_db)
            await self._mongo.close()
        if hasattr(self, "emulator"):
            await self.emulator.aclose()
        if self.hetzner is not None:
            await self.hetzner.aclose()
        if self.digitalocean is not None:
            await self.digitalocean.aclose()
        if self._mongo_frozen:
            self.freeze_mongo(False)  # a stopped process would not see SIGTERM
        # The worker first, so it does not log a storm of connection errors.
        for proc in reversed(self._procs):
            await asyncio.to_thread(proc.stop, 10.0)
        self._procs.clear()

    @property
    def db(self) -> Any:
        """The benchmark's database (the workers' MONGO_DB), for lease stores and reads."""
        assert self._mongo is not None
        return self._mongo[self.mongo_db]

    # ---- faults to the stack's own processes

    async def restart_temporal(self, down_for: float) -> None:
        """Stop the dev server, wait, start it again on the same port and SQLite file
        (StackOptions.temporal_on_disk), with every workflow and timer intact."""
        if self.temporal is None or not self.options.temporal_on_disk:
            raise RuntimeError("restart_temporal needs StackOptions(temporal_on_disk=True)")
        await asyncio.to_thread(self.temporal.stop)
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.temporal.start, 60.0)

    async def restart_mongo(self, down_for: float) -> None:
        """Stop the embedded MongoDB, wait, start it again on its on-disk data."""
        if self.mongo is None or not self.options.mongo_on_disk:
            raise RuntimeError("restart_mongo needs StackOptions(mongo_on_disk=True)")
        await asyncio.to_thread(self.mongo.stop)
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.mongo.start, 60.0)

    def freeze_mongo(self, frozen: bool) -> None:
        """SIGSTOP (SIGCONT) the embedded MongoDB's process group: its connections hang,
        as on a network partition."""
        if self.mongo is None or self.mongo.pid is None:
            raise RuntimeError("freeze_mongo needs the embedded MongoDB")
        try:
            os.killpg(self.mongo.pid, signal.SIGSTOP if frozen else signal.SIGCONT)
        except ProcessLookupError:
            pass
        self._mongo_frozen = frozen

    def kill_worker(self, worker: ManagedProcess) -> None:
        """SIGKILL one worker process (and its children), as a crash would."""
        worker.kill()

    async def restart_worker(self, worker: ManagedProcess, after: float = 0.0) -> None:
        """Start a killed worker again (same environment and metrics port)."""
        await asyncio.sleep(after)
        await asyncio.to_thread(worker.start, 120.0)

    async def reconfigure_workers(self, env: Mapping[str, str]) -> None:
        """Stop every worker, change its environment by `env` and start it again, as an
        operator changing a setting would; the workflows carry on from their histories."""
        for worker in self.workers:
            await asyncio.to_thread(worker.stop)
            worker.env = {**(worker.env or {}), **env}
        await asyncio.gather(*(asyncio.to_thread(w.start, 120.0) for w in self.workers))

    # ---- servers

    def handle(self, name: str) -> WorkflowHandle[ServerWorkflow, ServerStatus]:
        return self.client.get_workflow_handle_for(ServerWorkflow.run, f"server-{name}")

    async def start_servers(
        self,
        names: Sequence[str],
        policy: ServerPolicy | None = None,
        concurrency: int = 32,
        per_second: float | None = None,
        spec: ServerSpec = SPEC,
    ) -> None:
        """Start one server workflow per name: all at once (`concurrency` start calls in
        flight), or paced at `per_second`."""
        policy = policy or self.options.policy()

        async def start(name: str) -> None:
            inp = ServerInput(name=name, spec=spec, policy=policy)
            await start_server(self.client, inp, self.TASK_QUEUE)

        if not per_second:
            await bounded_gather((start(n) for n in names), concurrency)
            return
        began = time.monotonic()
        started = []
        for i, name in enumerate(names):
            await asyncio.sleep(max(0.0, began + i / per_second - time.monotonic()))
            started.append(asyncio.create_task(start(name)))
        await asyncio.gather(*started)

    async def signal_busy(self, name: str, task_id: str) -> None:
        await self.handle(name).signal(ServerWorkflow.mark_busy, TaskSignal(task_id=task_id))

    async def signal_idle(self, name: str, task_id: str) -> None:
        await self.handle(name).signal(ServerWorkflow.mark_idle, TaskSignal(task_id=task_id))

    async def terminate_now(self, names: Iterable[str], reason: str = "benchmark over") -> None:
        request = TerminationRequest(reason=reason, immediately=True)
        await bounded_gather(
            (self.handle(n).signal(ServerWorkflow.request_termination, request) for n in names), 32
        )

    async def status(self, name: str) -> ServerStatus:
        return await self.handle(name).query(ServerWorkflow.status)

    async def results(self, names: Sequence[str]) -> dict[str, ServerStatus | BaseException]:
        """Each workflow's result (a ServerStatus), or the exception it failed with."""

        async def one(name: str) -> ServerStatus | BaseException:
            try:
                try:
                    return await self.handle(name).result()
                except WorkflowFailureError:
                    # A run that ends in ERROR fails after its cleanup; its status
                    # (state ERROR, the error) is still there to query.
                    return await self.status(name)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                return exc

        values = await bounded_gather((one(n) for n in names), 32)
        return dict(zip(names, values, strict=True))

    async def history(self, name: str) -> list[HistoryEvent]:
        return list((await self.handle(name).fetch_history()).events)

    async def histories(self, names: Sequence[str]) -> dict[str, list[HistoryEvent]]:
        values = await bounded_gather((self.history(n) for n in names), 16)
        return dict(zip(names, values, strict=True))

    async def reconcile_runs(self) -> list[tuple[float, float | None]]:
        """(start, close) of every run of the worker's reconciliation schedule, which
        lists the managed instances at Vultr fleet-wide (RECONCILE_INTERVAL_SECONDS)."""
        runs = []
        async for wf in self.client.list_workflows("WorkflowType = 'ReconcileWorkflow'"):
            closed = wf.close_time.timestamp() if wf.close_time else None
            runs.append((wf.start_time.timestamp(), closed))
        return sorted(runs)

    # ---- read model

    async def read_model(self, only: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Latest read-model document per server name (written by the workflows),
        for every server or `only` the named ones."""
        assert self._mongo is not None
        docs: dict[str, dict[str, Any]] = {}
        query = {} if only is None else {"name": {"$in": list(only)}}
        projection = {"name": 1, "state": 1, "billing_start": 1, "timeline": 1, "instance_id": 1}
        async for doc in self._mongo[self.mongo_db][SERVERS_COLLECTION].find(query, projection):
            docs[doc["name"]] = doc
        return docs

    async def wait_for_states(
        self,
        names: Sequence[str],
        states: Iterable[str],
        within: float,
        what: str,
        every: float = 2.0,
    ) -> float:
        """Wait until every named server's read model shows one of `states`; returns the
        seconds waited. Raises BenchTimeout naming the laggards."""
        wanted = set(states)
        started = time.monotonic()
        last_note = 0.0
        while True:
            docs = await self.read_model()
            counts = Counter(docs[n]["state"] if n in docs else "NOT STARTED" for n in names)
            done = sum(v for k, v in counts.items() if k in wanted)
            elapsed = time.monotonic() - started
            if done == len(names):
                return elapsed
            if elapsed > within:
                raise BenchTimeout(
                    f"{what}: only {done}/{len(names)} reached {sorted(wanted)} within "
                    f"{within:.0f} s; states now {dict(counts)}; logs in {self.log_dir}"
                )
            if elapsed - last_note >= 15:
                last_note = elapsed
                log(f"{what}: {done}/{len(names)} ({dict(counts)})")
            await asyncio.sleep(every)

    # ---- processes

    def rss_bytes(self, proc: ManagedProcess | None) -> int:
        if proc is None or proc.pid is None:
            return 0
        try:
            root = psutil.Process(proc.pid)
            return root.memory_info().rss + sum(
                c.memory_info().rss for c in root.children(recursive=True)
            )
        except psutil.Error:
            return 0

    async def worker_histogram(self, metric: str, task_queue: str) -> dict[float, int]:
        """Cumulative bucket counts (upper bound in seconds -> count) of one of the
        worker's Temporal SDK latency histograms, from its Prometheus endpoint."""
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(url)).text
        buckets: dict[float, int] = {}
        prefix = f"{metric}_bucket{{"
        for line in text.splitlines():
            if not line.startswith(prefix) or f'task_queue="{task_queue}"' not in line:
                continue
            labels, _, value = line.rpartition(" ")
            le = labels.rsplit('le="', 1)[1].split('"', 1)[0]
            bound = math.inf if le == "+Inf" else float(le) / 1000  # the SDK reports ms
            buckets[bound] = buckets.get(bound, 0) + int(float(value))
        return buckets

    def worker_log_counts(self) -> dict[str, int]:
        """Lines the workers logged at WARNING and ERROR, and tracebacks."""
        try:
            text = "".join(
                w.log_path.read_text(errors="replace") for w in self.workers if w.log_path.exists()
            )
        except OSError:
            return {}
        if not text:
            return {}
        return {
            "warning_lines": text.count(" WARNING "),
            "error_lines": text.count(" ERROR "),
            "tracebacks": text.count("Traceback (most recent call last)"),
        }


def histogram_shares(
    before: Mapping[float, int], after: Mapping[float, int]
) -> dict[str, float | int]:
    """Of the observations between two snapshots of a cumulative histogram: how many,
    and which share fell at or under each bucket bound."""
    bounds = sorted(after)
    total = after.get(math.inf, 0) - before.get(math.inf, 0)
    out: dict[str, float | int] = {"n": total}
    for bound in bounds:
        if bound == math.inf or not total:
            continue
        out[f"<={bound:g}s"] = round((after[bound] - before.get(bound, 0)) / total, 4)
    return out


def fmt_shares(shares: Mapping[str, float | int]) -> str:
    """`n; share over 1 s / over 10 s` for a histogram_shares result."""
    if not shares.get("n"):
        return "-"
    over_1 = 1 - float(shares.get("<=1s", 1.0))
    over_10 = 1 - float(shares.get("<=10s", 1.0))
    return f"{shares['n']}; {over_1:.1%} > 1 s, {over_10:.1%} > 10 s"


async def bounded_gather(awaitables: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """Await all, at most `limit` at a time, results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: Awaitable[T]) -> T:
        async with gate:
            return await item

    return list(await asyncio.gather(*(one(a) for a in awaitables)))


# --------------------------------------------------------------------------- history


def event_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


def compact_history(events: Sequence[HistoryEvent], origin: float = 0.0) -> list[list[Any]]:
    """[event id, type, seconds after `origin`, detail] per event: activity type,
    timer length, signal name or published ServerState, for reports."""
    out: list[list[Any]] = []
    for e in events:
        at = e.event_time.seconds + e.event_time.nanos / 1e9 - origin
        kind = e.event_type
        detail: Any = ""
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            detail = e.activity_task_scheduled_event_attributes.activity_type.name
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            detail = f"attempt {e.activity_task_started_event_attributes.attempt}"
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = e.timer_started_event_attributes.start_to_fire_timeout
            detail = round(timeout.seconds + timeout.nanos / 1e9, 2)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            detail = e.workflow_execution_signaled_event_attributes.signal_name
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes
            payload = fields.indexed_fields.get("ServerState")
            detail = str(json.loads(payload.data)) if payload is not None else "attributes"
        out.append([e.event_id, event_name(e), round(at, 2), detail])
    return out


def state_marks(events: Sequence[HistoryEvent]) -> list[tuple[int, str]]:
    """(index, state) of every search-attribute upsert that sets ServerState: where the
    workflow published a transition."""
    marks = []
    for index, event in enumerate(events):
        if event.event_type != EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            continue
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        payload = fields.indexed_fields.get("ServerState")
        if payload is not None:
            marks.append((index, str(json.loads(payload.data))))
    return marks


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; q in [0, 1]."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]


def distribution(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": min(values),
        "p1": percentile(values, 0.01),
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def fmt_dist(d: Mapping[str, float], unit: str = "", digits: int = 2) -> str:
    if not d.get("n"):
        return "-"
    keys = ("min", "p50", "p99", "max")
    return " / ".join(f"{d[k]:.{digits}f}" for k in keys) + unit


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    if title:
        print(title)
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in cells:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print()


def machine_info() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def write_results(name: str, size: str, payload: Mapping[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    report = {"benchmark": name, "size": size, "time": stamp, "machine": machine_info(), **payload}
    path.write_text(json.dumps(report, indent=2, default=_json_default))
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


async def _cancelled_on_termination(main: Coroutine[Any, Any, int]) -> int:
    """SIGTERM and SIGHUP cancel the benchmark as asyncio.run does on Ctrl-C: its
    `async with` blocks unwind in the loop and stop what they started."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    signals = (signal.SIGTERM, signal.SIGHUP)
    for sig in signals:
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await main
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def run_main(main: Callable[[], Coroutine[Any, Any, int]]) -> None:
    """Run a benchmark's async main; Ctrl-C, SIGTERM (from `timeout`) and SIGHUP still
    stop every process it started."""
    code: int
    try:
        code = asyncio.run(_cancelled_on_termination(main()))
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped")
        code = 130
    except BenchTimeout as exc:
        log(f"gave up: {exc}")
        code = 3
    sys.exit(code)
