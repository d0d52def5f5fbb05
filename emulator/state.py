"""Everything one emulator holds, shared by the API handlers, the gate and the admin routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from emulator.config import EmulatorConfig
from emulator.faults import FaultInjector
from emulator.gate import RequestLog
from emulator.ratelimit import SlidingWindowLimiter
from emulator.store import Clock, InstanceStore

__all__ = ["Emulator", "emulator_of"]


@dataclass
class Emulator:
    config: EmulatorConfig
    clock: Clock
    store: InstanceStore
    faults: FaultInjector
    limiter: SlidingWindowLimiter
    request_log: RequestLog

    @classmethod
    def build(cls, config: EmulatorConfig, clock: Clock) -> Emulator:
        return cls(
            config=config,
            clock=clock,
            store=InstanceStore(config.seed, config.billing_period_seconds),
            faults=FaultInjector(config.faults, config.seed),
            limiter=SlidingWindowLimiter(config.rate_limit),
            request_log=RequestLog(),
        )

    def now(self) -> datetime:
        return self.clock()

    def reset(self) -> None:
        """An empty account: no instances, no charges, no request log, no faults."""
        self.store.reset()
        self.faults.clear()
        self.limiter.reset()
        self.request_log.clear()


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator
