"""Everything one emulator holds, shared by the face's handlers, the gate and the admin routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request

from emulator.core.clock import Clock
from emulator.core.config import CoreConfig
from emulator.core.face import Face
from emulator.core.faults import FaultInjector
from emulator.core.ledger import Ledger
from emulator.core.ratelimit import RateLimiter
from emulator.core.requestlog import RequestLog
from emulator.core.store import RecordStore

__all__ = ["Emulator", "emulator_of"]


@dataclass
class Emulator:
    config: CoreConfig
    face: Face
    clock: Clock
    store: RecordStore[Any]
    ledger: Ledger
    faults: FaultInjector
    limiter: RateLimiter
    request_log: RequestLog

    @classmethod
    def build(cls, config: CoreConfig, clock: Clock) -> Emulator:
        face = config.face()
        return cls(
            config=config,
            face=face,
            clock=clock,
            store=face.build_store(),
            ledger=Ledger(config.billing_period_seconds),
            faults=FaultInjector(config.faults, config.seed),
            limiter=face.build_limiter(),
            request_log=RequestLog(),
        )

    def now(self) -> datetime:
        return self.clock()

    def reset(self) -> None:
        """An empty account: no servers, no charges, no request log, no faults."""
        self.store.reset()
        self.faults.clear()
        self.limiter.reset()
        self.request_log.clear()


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator
