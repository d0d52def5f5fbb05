"""Server lifecycle states and the one table of allowed transitions."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "ACTIVE_STATES",
    "AVAILABLE_STATES",
    "FINAL_STATES",
    "TRANSITIONS",
    "SERVING_STATES",
    "InvalidTransition",
    "ServerState",
    "check_transition",
]


class ServerState(StrEnum):
    PROVISIONING = "PROVISIONING"
    READY = "READY"
    EXECUTING = "EXECUTING"
    IDLE = "IDLE"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"


S = ServerState

TRANSITIONS: Mapping[ServerState, frozenset[ServerState]] = MappingProxyType(
    {
        S.PROVISIONING: frozenset({S.READY, S.TERMINATING, S.ERROR}),
        S.READY: frozenset({S.EXECUTING, S.TERMINATING, S.ERROR}),
        S.EXECUTING: frozenset({S.IDLE, S.TERMINATING, S.ERROR}),
        S.IDLE: frozenset({S.EXECUTING, S.TERMINATING, S.ERROR}),
        S.TERMINATING: frozenset({S.TERMINATED, S.ERROR}),
        S.TERMINATED: frozenset(),
        S.ERROR: frozenset(),
    }
)

FINAL_STATES = frozenset({S.TERMINATED, S.ERROR})
# A job can be handed a server in these states without provisioning a new one.
AVAILABLE_STATES = frozenset({S.READY, S.IDLE})
# Provisioned and not yet being deleted: the instance must exist at the provider.
SERVING_STATES = frozenset({S.READY, S.EXECUTING, S.IDLE})
# States in which an instance may exist at the provider.
ACTIVE_STATES = frozenset({S.PROVISIONING, S.READY, S.EXECUTING, S.IDLE, S.TERMINATING})


class InvalidTransition(ValueError):
    def __init__(self, current: ServerState, target: ServerState, why: str = "") -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        detail = f": {why}" if why else ""
        super().__init__(
            f"cannot go from {current} to {target}{detail} (allowed from {current}: {allowed})"
        )
        self.current = current
        self.target = target


def check_transition(current: ServerState, target: ServerState) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
