"""The soak's fault injector: one fault at a time, chosen from a seeded RNG, each undone
before the next begins, so that a deadline meets at most one fault's delay.

Kinds: a worker SIGKILLed (restarted 1-10 s later), MongoDB frozen (SIGSTOP/SIGCONT),
MongoDB restarted, the Temporal dev server restarted, and, at one provider's emulator,
a 5xx burst, a 429 storm, dropped create responses, locked deletes or DELETE latency.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.harness import BenchStack, EmulatorAdmin, log

__all__ = ["FAULT_KINDS", "FaultLimits", "FaultRecord", "Injector"]

FAULT_KINDS = (
    "worker_sigkill",
    "mongo_sigstop",
    "mongo_restart",
    "temporal_restart",
    "provider_5xx_burst",
    "provider_429_storm",
    "dropped_create_response",
    "locked_delete",
    "delete_latency",
)
# Count-limited faults (kind -> the emulator's trigger): armed, then lifted once they
# fired (or when their time is up).
ARMED_KINDS = {"dropped_create_response": "drop_create_response", "locked_delete": "locked_delete"}
DELETE_ROUTES = {
    "vultr": "DELETE /v2/instances/{instance-id}",
    "hetzner": "DELETE /v1/servers/{id}",
    "digitalocean": "DELETE /v2/droplets/{droplet_id}",
}


@dataclass(frozen=True)
class FaultLimits:
    """How long each fault lasts (uniform in the range, seconds) and the pause between
    one fault's end and the next one's start."""

    gap: tuple[float, float]
    worker_restart_after: tuple[float, float] = (1.0, 10.0)
    mongo_frozen: tuple[float, float] = (2.0, 5.0)
    mongo_down: tuple[float, float] = (1.0, 3.0)
    temporal_down: tuple[float, float] = (1.0, 3.0)
    provider_burst: tuple[float, float] = (3.0, 8.0)
    provider_armed: tuple[float, float] = (10.0, 20.0)  # at most; lifted once they fired
    delete_latency_ms: tuple[float, float] = (1000.0, 3000.0)


@dataclass
class FaultRecord:
    kind: str
    target: str
    started: float
    ended: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Injector:
    stack: BenchStack
    emulators: dict[str, EmulatorAdmin]
    limits: FaultLimits
    rng: random.Random
    records: list[FaultRecord] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _restarts: list[asyncio.Task[None]] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(r.kind for r in self.records)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Inject until stop(): every kind once in a shuffled order, then at random."""
        order = list(FAULT_KINDS)
        self.rng.shuffle(order)
        while not self._stop.is_set():
            if await self._pause(self.rng.uniform(*self.limits.gap)):
                return
            kind = order.pop(0) if order else self.rng.choice(FAULT_KINDS)
            await self._inject(kind)

    async def settle(self) -> None:
        """Undo whatever is still in force: provider faults cleared, every worker up."""
        await asyncio.gather(*(e.clear_faults() for e in self.emulators.values()))
        await asyncio.gather(*self._restarts, return_exceptions=True)
        for worker in self.stack.workers:
            if not worker.running():
                await self.stack.restart_worker(worker)

    async def _pause(self, seconds: float) -> bool:
        """Sleep; True if stop() came first."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _inject(self, kind: str) -> None:
        limits = self.limits
        if kind == "worker_sigkill":
            await self._kill_worker()
            return
        if kind == "mongo_sigstop":
            record = self._begin(kind, "mongodb")
            self.stack.freeze_mongo(True)
            try:
                await asyncio.sleep(self.rng.uniform(*limits.mongo_frozen))
            finally:
                self.stack.freeze_mongo(False)
            self._end(record)
            return
        if kind == "mongo_restart":
            record = self._begin(kind, "mongodb")
            await self.stack.restart_mongo(self.rng.uniform(*limits.mongo_down))
            self._end(record)
            return
        if kind == "temporal_restart":
            record = self._begin(kind, "temporal")
            await self.stack.restart_temporal(self.rng.uniform(*limits.temporal_down))
            self._end(record)
            return
        await self._provider_fault(kind)

    async def _kill_worker(self) -> None:
        alive = [w for w in self.stack.workers if w.running()]
        if len(alive) < 2:
            return  # never the last one: the fleet would wait for a restart alone
        victim = self.rng.choice(alive)
        after = self.rng.uniform(*self.limits.worker_restart_after)
        record = self._begin("worker_sigkill", f"pid {victim.pid}")
        record.detail["restart_after_seconds"] = round(after, 1)
        self.stack.kill_worker(victim)
        log(f"fault: worker pid {victim.pid} SIGKILLed; restart in {after:.1f} s")

        async def restart() -> None:
            await self.stack.restart_worker(victim, after)
            self._end(record)

        self._restarts.append(asyncio.create_task(restart()))

    async def _provider_fault(self, kind: str) -> None:
        """At one provider; an armed kind (dropped creates, locked deletes) at all three
        at once, since each fires only on its provider's next create or delete."""
        armed = kind in ARMED_KINDS
        targets = sorted(self.emulators) if armed else [self.rng.choice(sorted(self.emulators))]
        limits = self.limits
        lasts = self.rng.uniform(*limits.provider_burst)
        if armed or kind == "delete_latency":
            lasts = self.rng.uniform(*limits.provider_armed)
        configs = {p: self._config_for(kind, p) for p in targets}
        record = self._begin(kind, ",".join(targets))
        record.detail = {"config": configs}
        await asyncio.gather(*(self.emulators[p].set_faults(c) for p, c in configs.items()))
        left: dict[str, dict[str, int]] = {}
        try:
            # An armed fault is lifted once spent everywhere (or when its time is up).
            give_up = time.monotonic() + lasts
            while time.monotonic() < give_up:
                await asyncio.sleep(min(1.0, max(0.0, give_up - time.monotonic())))
                if armed and not any([_unused(await self.emulators[p].faults()) for p in targets]):
                    break
        finally:
            for p in targets:
                left[p] = _unused(await self.emulators[p].faults())
                await self.emulators[p].clear_faults()
        record.detail["left_unused"] = left
        self._end(record)

    def _config_for(self, kind: str, provider: str) -> dict[str, Any]:
        if kind == "provider_5xx_burst":
            status = self.rng.choice((500, 503))
            return {"rules": [{"route": "*", "status": status, "rate": 0.5}]}
        if kind == "provider_429_storm":
            return {"rules": [{"route": "*", "status": 429, "rate": 0.7, "retry_after": 1}]}
        if kind in ARMED_KINDS:
            return {ARMED_KINDS[kind]: {"count": self.rng.randint(1, 2)}}
        ms = round(self.rng.uniform(*self.limits.delete_latency_ms))
        return {"route_latency_ms": {DELETE_ROUTES[provider]: ms}}

    def fired(self) -> dict[str, str]:
        """For the armed kinds: how many of the armed triggers fired, as `n of m`."""
        out = {}
        for kind, trigger in ARMED_KINDS.items():
            armed = fired = 0
            for r in self.records:
                if r.kind != kind:
                    continue
                for provider, config in r.detail.get("config", {}).items():
                    count = int(config.get(trigger, {}).get("count", 0))
                    unused = r.detail.get("left_unused", {}).get(provider, {})
                    armed += count
                    fired += count - int(unused.get(trigger, 0))
            out[kind] = f"{fired} of {armed} armed fired"
        return out

    def _begin(self, kind: str, target: str) -> FaultRecord:
        record = FaultRecord(kind, target, time.time())
        self.records.append(record)
        if kind != "worker_sigkill":
            log(f"fault: {kind} at {target}")
        return record

    def _end(self, record: FaultRecord) -> None:
        record.ended = time.time()


def _unused(config: dict[str, Any]) -> dict[str, int]:
    """What remained of count-limited triggers when the fault was lifted."""
    out = {}
    for key in ARMED_KINDS.values():
        trigger = config.get(key) or {}
        if trigger.get("count"):
            out[key] = int(trigger["count"])
    return out
