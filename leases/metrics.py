"""Hooks through which the lease store reports latencies and notable events.

The store calls these synchronously on its own path, so implementations must be cheap
and must not block (a Prometheus counter or histogram is the intended shape).
"""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = ["LeaseMetrics", "LeaseOperation", "LeaseOutcome", "NoopLeaseMetrics"]

LeaseOperation = Literal["acquire", "renew", "release"]

# acquire: acquired (a new slot), reacquired (the owner's existing slot), denied
# renew:   renewed, lost (not held any more)
# release: released, not_held
# any:     unknown (ambiguous write), error (the operation raised)
LeaseOutcome = Literal[
    "acquired",
    "reacquired",
    "denied",
    "renewed",
    "lost",
    "released",
    "not_held",
    "unknown",
    "error",
]


class LeaseMetrics(Protocol):
    def observe(self, operation: LeaseOperation, outcome: LeaseOutcome, seconds: float) -> None:
        """One store call finished after `seconds` (wall time, including the round trip)."""

    def denied(self, resource: str, limit: int) -> None:
        """An acquire found `limit` live holders and was refused."""

    def takeover(self, resource: str) -> None:
        """An acquire got a slot after pruning at least one expired holder."""


class NoopLeaseMetrics:
    """The default: records nothing."""

    def observe(self, operation: LeaseOperation, outcome: LeaseOutcome, seconds: float) -> None:
        return None

    def denied(self, resource: str, limit: int) -> None:
        return None

    def takeover(self, resource: str) -> None:
        return None
