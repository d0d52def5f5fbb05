"""Fault injection: which requests fail, how, and how slowly.

All random choices come from one generator seeded from the emulator's seed, and
it is re-seeded whenever the fault configuration is replaced, so the same
configuration followed by the same requests fails the same requests.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ANY_ROUTE",
    "FaultConfig",
    "FaultInjector",
    "FaultRule",
    "InjectedFailure",
    "Trigger",
]

ANY_ROUTE = "*"


class Trigger(BaseModel):
    """When a fault fires: the next `count` times, a fraction `rate` of the time, or both
    (a fraction `rate` of the time, at most `count` times). Neither set: never."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    rate: float = Field(default=0.0, ge=0.0, le=1.0)
    count: int = Field(default=0, ge=0)


class FaultRule(BaseModel):
    """Fail matching requests with `status`. `route` is a spec template such as
    `GET /v2/instances/{instance-id}`, or `*` for every route of the face. With neither `rate`
    nor `count`, every matching request fails."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    route: str
    status: Literal[429, 500, 503]
    rate: float | None = Field(default=None, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=0)
    retry_after: int = Field(default=1, ge=1, description="Retry-After seconds for status 429")


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[FaultRule] = Field(default_factory=list)
    latency_ms: float = Field(default=0.0, ge=0.0)
    route_latency_ms: dict[str, float] = Field(default_factory=dict)
    drop_create_response: Trigger = Field(default_factory=Trigger)
    locked_delete: Trigger = Field(default_factory=Trigger)
    # The face's list route (GET /v2/instances, GET /v1/servers) answers every live server
    # whatever its query filters say, as a provider (or a proxy) may do with a deprecated
    # filter such as `tag`. Paging still holds.
    ignore_list_filters: bool = False

    @field_validator("route_latency_ms")
    @classmethod
    def _latencies_not_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for route, ms in value.items():
            if ms < 0:
                raise ValueError(f"route_latency_ms[{route!r}] is {ms}; latency cannot be negative")
        return value

    def check_routes(self, known_routes: frozenset[str]) -> None:
        """Raise ValueError naming any route that matches nothing the emulator serves."""
        named = [rule.route for rule in self.rules] + list(self.route_latency_ms)
        unknown = [r for r in named if r != ANY_ROUTE and r not in known_routes]
        if unknown:
            raise ValueError(
                f"fault route(s) {unknown} match no emulated route; use '*' or one of "
                f"{sorted(known_routes)}"
            )


class InjectedFailure(BaseModel):
    status: int
    retry_after: int | None = None


_FAILURE_MESSAGES = {
    429: "Rate limit reached - please try your request again later.",
    500: "Internal server error.",
    503: "Service temporarily unavailable.",
}


class FaultInjector:
    """Holds the fault configuration in force and decides, request by request, what fails."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._seed = seed
        self.replace(config)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def replace(self, config: FaultConfig) -> None:
        self._config = config.model_copy(deep=True)
        self._rng = random.Random(f"{self._seed}:faults")

    def clear(self) -> None:
        self.replace(FaultConfig())

    def snapshot(self) -> dict[str, Any]:
        """The configuration in force; counts show what remains of each."""
        return self._config.model_dump()

    def latency_seconds(self, route: str | None) -> float:
        ms = self._config.latency_ms
        if route is not None:
            ms += self._config.route_latency_ms.get(route, 0.0)
        return ms / 1000.0

    def failure_for(self, route: str) -> InjectedFailure | None:
        """The first rule that matches `route` and fires decides the failure."""
        for rule in self._config.rules:
            if rule.route != ANY_ROUTE and rule.route != route:
                continue
            if self._rule_fires(rule):
                retry_after = rule.retry_after if rule.status == 429 else None
                return InjectedFailure(status=rule.status, retry_after=retry_after)
        return None

    def drop_create_response(self) -> bool:
        return self._trigger_fires(self._config.drop_create_response)

    def locked_delete(self) -> bool:
        return self._trigger_fires(self._config.locked_delete)

    def ignores_list_filters(self) -> bool:
        return self._config.ignore_list_filters

    @staticmethod
    def message(status: int) -> str:
        return _FAILURE_MESSAGES[status]

    def _rule_fires(self, rule: FaultRule) -> bool:
        if rule.rate is None and rule.count is None:
            return True
        if rule.count is not None and rule.count <= 0:
            return False
        if rule.rate is not None and self._rng.random() >= rule.rate:
            return False
        if rule.count is not None:
            rule.count -= 1
        return True

    def _trigger_fires(self, trigger: Trigger) -> bool:
        if trigger.rate == 0.0:
            if trigger.count > 0:
                trigger.count -= 1
                return True
            return False
        # A rate with a count of zero means "no limit".
        if self._rng.random() >= trigger.rate:
            return False
        if trigger.count > 0:
            trigger.count -= 1
            if trigger.count == 0:
                trigger.rate = 0.0  # the limit is reached: spent
        return True
