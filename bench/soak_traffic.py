"""The soak's job traffic: servers started at all three providers, tasks marked busy and
idle by signal, claims and releases through the ClaimBroker, explicit terminations and
a warm pool, all chosen from a seeded RNG. Every call is retried through the faults
(Temporal or MongoDB may be down for a few seconds); what was sent, and when, is
recorded for the checks.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from activities.fleet_store import SERVERS_COLLECTION
from activities.pools import POOLS_COLLECTION
from bench.harness import BenchStack, log
from client.claims import Claim, ClaimBroker, ClaimError
from client.fleet import start_server
from core.models import ServerInput, ServerPolicy, ServerSpec, TerminationRequest
from leases import LeaseStore
from workflows.pool import PoolInput, WarmPoolWorkflow
from workflows.server import ServerWorkflow

__all__ = ["SPECS", "TaskRecord", "TerminateRecord", "Traffic", "TrafficPlan"]

SPECS = {
    "vultr": ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284),
    "hetzner": ServerSpec(provider="hetzner", region="fsn1", plan="cx22", os_id=161547269),
    "digitalocean": ServerSpec(
        provider="digitalocean", region="nyc3", plan="s-1vcpu-1gb", os_id=155112933
    ),
}
AVAILABLE = ("READY", "IDLE")
POOL = "soakpool"
RETRY_FOR = 90.0  # seconds a call is retried through a fault before it counts as failed


@dataclass(frozen=True)
class TrafficPlan:
    policy: ServerPolicy
    live_per_provider: int  # soak-started servers kept alive at each provider, at most
    task_seconds: tuple[float, float]
    claim_seconds: tuple[float, float]
    tick_seconds: tuple[float, float] = (0.5, 1.5)
    pool_min_idle: int = 1
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "start": 3.0,
            "busy": 4.0,
            "claim": 2.0,
            "terminate": 1.0,
            "pool_resize": 0.3,
        }
    )


@dataclass
class TaskRecord:
    """A job on a server: by signals (mark_busy/mark_idle) or by claim (a lease and the
    workflow's claim update). A job starts when Temporal accepted its mark_busy (the
    signal call returned; retried through a Temporal restart, it may land after the
    server was deleted) or its claim came back, and ends when the soak sent its end."""

    server: str
    task_id: str
    kind: str
    started: float
    ended: float | None = None


@dataclass(frozen=True)
class TerminateRecord:
    server: str
    at: float
    immediately: bool


@dataclass
class Traffic:
    stack: BenchStack
    plan: TrafficPlan
    rng: random.Random
    tasks: list[TaskRecord] = field(default_factory=list)
    terminations: list[TerminateRecord] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    started: dict[str, str] = field(default_factory=dict)  # server name -> provider
    _busy: set[str] = field(default_factory=set)  # servers with a soak job on them
    _running: set[asyncio.Task[Any]] = field(default_factory=set)
    _claiming: set[asyncio.Task[Any]] = field(default_factory=set)  # claims not yet granted
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _ended: asyncio.Event = field(default_factory=asyncio.Event)  # jobs end at once
    _seq: int = 0
    _docs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.broker = ClaimBroker(
            self.stack.client, self.stack.settings, self.stack.db, LeaseStore(self.stack.db)
        )

    # ---- the loop

    async def run(self) -> None:
        await self._retry("pool", self._start_pool)
        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "start": self._start_one,
            "busy": self._busy_job,
            "claim": self._claim_job,
            "terminate": self._terminate_one,
            "pool_resize": self._resize_pool,
        }
        names, weights = zip(*self.plan.weights.items(), strict=True)
        while not self._stop.is_set():
            try:
                self._docs = await asyncio.wait_for(self._read_docs(), 10)
            except Exception:  # noqa: BLE001 - MongoDB down: act on the last view
                self._count("read_model")
            action = self.rng.choices(names, weights)[0]
            self._spawn(actions[action]())
            try:
                await asyncio.wait_for(self._stop.wait(), self.rng.uniform(*self.plan.tick_seconds))
            except TimeoutError:
                pass

    def record_termination(self, server: str, immediately: bool) -> None:
        self.terminations.append(TerminateRecord(server, time.time(), immediately))

    async def wind_down(self) -> None:
        """Stop new traffic, end every job (sent now), stop the pool; waits for all."""
        self._stop.set()
        self._ended.set()
        # A claim still waiting for a server is abandoned (never a job that ran); the
        # drain's terminate-now takes any server it had provisioned.
        for attempt in list(self._claiming):
            attempt.cancel()
        await self._retry("pool stop", self._stop_pool)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _read_docs(self) -> dict[str, dict[str, Any]]:
        projection = {"name": 1, "state": 1, "provider": 1, "updated_at": 1}
        docs: dict[str, dict[str, Any]] = {}
        async for doc in self.stack.db[SERVERS_COLLECTION].find({}, projection):
            docs[doc["name"]] = doc
        return docs

    def live_names(self) -> list[str]:
        return [n for n, d in self._docs.items() if d.get("state") not in ("TERMINATED", "ERROR")]

    # ---- actions

    async def _start_one(self) -> None:
        provider = self.rng.choice(sorted(SPECS))
        live = {n for n in self.live_names() if self.started.get(n) == provider}
        pending = {n for n, p in self.started.items() if p == provider and n not in self._docs}
        if len(live | pending) >= self.plan.live_per_provider:
            return
        self._seq += 1
        name = f"soak-{self._seq:04d}"
        self.started[name] = provider
        inp = ServerInput(name=name, spec=SPECS[provider], policy=self.plan.policy)

        async def start() -> None:
            await start_server(self.stack.client, inp, self.stack.TASK_QUEUE)

        await self._retry("start", start, already_ok=True)

    def _available(self) -> list[str]:
        return sorted(
            n for n, d in self._docs.items() if d.get("state") in AVAILABLE and n not in self._busy
        )

    async def _busy_job(self) -> None:
        choices = self._available()
        if not choices:
            return
        server = self.rng.choice(choices)
        task = self._task(server, "signal")
        self._busy.add(server)
        try:
            sent = await self._retry(
                "mark_busy", lambda: self.stack.signal_busy(server, task.task_id)
            )
            if not sent:
                task.ended = task.started  # never reached the workflow: it never ran
                return
            task.started = time.time()  # the server is the job's from here on
            await self._hold(self.rng.uniform(*self.plan.task_seconds))
            await self._retry("mark_idle", lambda: self.stack.signal_idle(server, task.task_id))
            task.ended = time.time()
        finally:
            self._busy.discard(server)

    async def _claim_job(self) -> None:
        # Mostly reuse: a claim with nothing available provisions a server and waits for
        # it, which at a full quota means waiting for another server to go.
        spec = SPECS["vultr"]
        if not [n for n in self._available() if self._docs[n].get("provider") == "vultr"]:
            return
        self._seq += 1
        task_id = f"claim-job-{self._seq:04d}"
        attempt = asyncio.current_task()
        if attempt is not None:
            self._claiming.add(attempt)
        try:
            claim: Claim = await asyncio.wait_for(
                self.broker.claim(
                    task_id,
                    region=spec.region,
                    plan=spec.plan,
                    ttl=timedelta(minutes=10),
                    wait=timedelta(seconds=60),
                ),
                90,
            )
        except (ClaimError, TimeoutError, Exception):  # noqa: BLE001 - counted, not raised
            self._count("claim")
            return
        finally:
            self._claiming.discard(attempt)  # type: ignore[arg-type]
        record = TaskRecord(claim.server, task_id, "claim", time.time())
        self.tasks.append(record)
        self._busy.add(claim.server)
        try:
            await self._hold(self.rng.uniform(*self.plan.claim_seconds))
            # Recorded before the call: the server may be freed as soon as it is sent.
            record.ended = time.time()
            await self._retry("release", lambda: self.broker.release(claim))
        finally:
            self._busy.discard(claim.server)

    async def _terminate_one(self) -> None:
        choices = self._available()
        if not choices:
            return
        server = self.rng.choice(choices)
        immediately = self.rng.random() < 0.5
        request = TerminationRequest(reason="soak: terminate", immediately=immediately)
        record = TerminateRecord(server, time.time(), immediately)

        async def send() -> None:
            await self.stack.handle(server).signal(ServerWorkflow.request_termination, request)

        if await self._retry("terminate", send):
            self.terminations.append(record)

    async def _start_pool(self) -> None:
        if self.plan.pool_min_idle <= 0:
            return
        inp = PoolInput(
            pool=POOL,
            spec=SPECS["vultr"],
            policy=self.plan.policy,
            min_idle=self.plan.pool_min_idle,
            check_every_seconds=10,
        )
        await self.stack.client.start_workflow(
            WarmPoolWorkflow.run, inp, id=f"pool-{POOL}", task_queue=self.stack.TASK_QUEUE
        )

    async def _resize_pool(self) -> None:
        if self.plan.pool_min_idle <= 0:
            return
        size = self.rng.randint(0, self.plan.pool_min_idle + 1)
        handle = self.stack.client.get_workflow_handle_for(WarmPoolWorkflow.run, f"pool-{POOL}")
        await self._retry("pool resize", lambda: handle.signal(WarmPoolWorkflow.set_min_idle, size))

    async def _stop_pool(self) -> None:
        """As `pool stop` does: members consult min_idle_now at their deadlines."""
        if self.plan.pool_min_idle <= 0:
            return
        await self.stack.db[POOLS_COLLECTION].update_one(
            {"_id": POOL}, {"$set": {"min_idle_now": 0}}
        )
        handle = self.stack.client.get_workflow_handle_for(WarmPoolWorkflow.run, f"pool-{POOL}")
        try:
            await handle.terminate("soak over")
        except Exception as exc:  # noqa: BLE001 - already ended is fine
            if "not found" not in str(exc).lower() and "already" not in str(exc).lower():
                raise

    # ---- plumbing

    def _task(self, server: str, kind: str) -> TaskRecord:
        self._seq += 1
        record = TaskRecord(server, f"job-{self._seq:04d}", kind, time.time())
        self.tasks.append(record)
        return record

    async def _hold(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._ended.wait(), seconds)
        except TimeoutError:
            pass

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _count(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    async def _retry(
        self, what: str, call: Callable[[], Awaitable[Any]], *, already_ok: bool = False
    ) -> bool:
        """Call until it succeeds or RETRY_FOR passes; whether it succeeded."""
        give_up = time.monotonic() + RETRY_FOR
        while True:
            try:
                await asyncio.wait_for(call(), 20)
                return True
            except Exception as exc:  # noqa: BLE001 - faults make calls fail for a while
                if already_ok and "already" in str(exc).lower():
                    return True
                if _server_gone(exc):
                    return False  # it ended meanwhile (a deadline, a terminate): nothing to do
                if time.monotonic() > give_up:
                    self._count(what)
                    log(f"traffic: {what} failed for {RETRY_FOR:.0f} s: {exc!r}")
                    return False
                await asyncio.sleep(1.0)


def _server_gone(exc: BaseException) -> bool:
    if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
        return True
    return "already completed" in str(exc).lower()
