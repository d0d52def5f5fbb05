"""Pydantic models shared by the CLI, workflows and activities.

Every workflow, signal, update and activity takes one of these models, so fields can
be added later without breaking running workflows. Nothing here reads a clock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import billing
from core.lifecycle import ServerState
from core.naming import (
    RESERVED_TAG_PREFIXES,
    validate_server_name,
    workflow_id_for,
)
from leases.models import Lease
from providers import DEFAULT_PROVIDER, PROVIDER_IDS
from providers.base import BillingModel

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = [
    "MAX_CLOUD_INIT_BYTES",
    "ClaimRequest",
    "DeleteSlot",
    "PolicyOverrides",
    "ClaimResult",
    "ServerInput",
    "ServerPolicy",
    "CarriedState",
    "ServerSpec",
    "ServerStatus",
    "TaskSignal",
    "TerminationRequest",
    "TimelineEntry",
    "validate_server_name",
    "workflow_id_for",
]

# Vultr accepts at most 64 KiB of user data once decoded.
MAX_CLOUD_INIT_BYTES = 64 * 1024
# States in which a requested termination is no longer pending.
_ENDING = frozenset({ServerState.TERMINATING, ServerState.TERMINATED, ServerState.ERROR})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ServerSpec(_Model):
    """What to create at a provider."""

    provider: str = DEFAULT_PROVIDER
    region: str = Field(min_length=1)
    plan: str = Field(min_length=1)
    # The OS image, the provider's way: `image` (Vultr: an OS id; Hetzner: an image name
    # or id), or `os_id`, the numeric form (what specs carried before `image`).
    os_id: int | None = Field(default=None, gt=0)
    image: str | None = Field(default=None, min_length=1)
    cloud_init: str | None = None
    tags: list[str] = Field(default_factory=list)
    ssh_key_ids: list[str] = Field(default_factory=list)

    @field_validator("provider")
    @classmethod
    def _provider_known(cls, value: str) -> str:
        if value not in PROVIDER_IDS:
            raise ValueError(f"unknown provider {value!r} (known: {', '.join(PROVIDER_IDS)})")
        return value

    @field_validator("cloud_init")
    @classmethod
    def _cloud_init_size(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("cloud-init is empty; omit it or give a non-empty script")
        size = len(value.encode())
        if size > MAX_CLOUD_INIT_BYTES:
            raise ValueError(
                f"cloud-init is {size} bytes; Vultr accepts at most {MAX_CLOUD_INIT_BYTES}"
            )
        return value

    @model_validator(mode="after")
    def _one_image(self) -> ServerSpec:
        if (self.os_id is None) == (self.image is None):
            raise ValueError("give the OS image once: either image or os_id")
        return self

    @property
    def image_ref(self) -> str:
        """The image as the provider's API names it."""
        return self.image if self.image is not None else str(self.os_id)

    @field_validator("tags")
    @classmethod
    def _tags_clean(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag or len(tag) > 255:
                raise ValueError(f"invalid tag {tag!r}: tags are 1-255 characters")
            if tag.startswith(RESERVED_TAG_PREFIXES):
                raise ValueError(
                    f"invalid tag {tag!r}: tags starting with "
                    f"{' or '.join(RESERVED_TAG_PREFIXES)} mark what this tool owns"
                )
        return value


class ServerPolicy(_Model):
    """When the server is kept and when it goes."""

    billing_period_seconds: int = Field(default=3600, gt=0)
    terminate_before_seconds: int = Field(default=60, ge=0)
    readiness_timeout_seconds: int = Field(default=900, gt=0)
    ready_poll_seconds: float = Field(default=5.0, gt=0)
    # Hard cap: at the first deadline after this much life the server goes, busy or not.
    max_lifetime_seconds: int | None = Field(default=None, gt=0)
    # Trade paid minutes for capacity: terminate after this much idle time even before
    # the deadline (frees a quota slot early).
    max_idle_seconds: int | None = Field(default=None, gt=0)
    # False keeps idle servers past their deadlines: they then go only by
    # max_idle_seconds, max_lifetime_seconds or a terminate request (the idle-timeout
    # and keep-alive policies other tools use; the cost benchmark compares them).
    terminate_idle_at_deadline: bool = True
    # A task not marked idle within this long is presumed dead and dropped.
    busy_timeout_seconds: int | None = Field(default=None, gt=0)
    # Per-second billing: an idle server goes this long after its last task ended.
    idle_window_seconds: int = Field(default=300, gt=0)

    @model_validator(mode="after")
    def _margin_below_period(self) -> ServerPolicy:
        if self.terminate_before_seconds >= self.billing_period_seconds:
            raise ValueError(
                f"terminate_before_seconds ({self.terminate_before_seconds}) must be smaller "
                f"than billing_period_seconds ({self.billing_period_seconds})"
            )
        return self

    @classmethod
    def from_settings(
        cls, settings: Settings, overrides: PolicyOverrides | None = None
    ) -> ServerPolicy:
        """The worker's defaults (its billing period, margin and readiness timeout) with
        whatever the user set explicitly on top."""
        period = settings.billing_period_seconds
        values: dict[str, Any] = {
            "billing_period_seconds": period,
            "terminate_before_seconds": settings.terminate_before_seconds,
            "readiness_timeout_seconds": settings.readiness_timeout_seconds,
            "idle_window_seconds": settings.idle_window_seconds,
            # Readiness polls scale with the period (every 5 s for an hour, faster for
            # the short periods of demos), never more often than twice a second.
            "ready_poll_seconds": min(5.0, max(0.5, period / 120)),
        }
        if overrides is not None:
            values.update(overrides.model_dump(exclude_none=True))
        return cls(**values)

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.billing_period_seconds)

    @property
    def margin(self) -> timedelta:
        return timedelta(seconds=self.terminate_before_seconds)

    @property
    def idle_window(self) -> timedelta:
        return timedelta(seconds=self.idle_window_seconds)


class PolicyOverrides(_Model):
    """The policy fields a user set explicitly; None leaves the field to the worker,
    which resolves the full ServerPolicy from its own settings when the server starts."""

    billing_period_seconds: int | None = Field(default=None, gt=0)
    terminate_before_seconds: int | None = Field(default=None, ge=0)
    readiness_timeout_seconds: int | None = Field(default=None, gt=0)
    ready_poll_seconds: float | None = Field(default=None, gt=0)
    max_lifetime_seconds: int | None = Field(default=None, gt=0)
    max_idle_seconds: int | None = Field(default=None, gt=0)
    terminate_idle_at_deadline: bool | None = None
    busy_timeout_seconds: int | None = Field(default=None, gt=0)
    idle_window_seconds: int | None = Field(default=None, gt=0)


class TimelineEntry(_Model):
    state: ServerState
    at: datetime
    reason: str = ""


class TerminationRequest(_Model):
    reason: str = Field(default="requested by operator", max_length=500)
    immediately: bool = False


class TaskSignal(_Model):
    task_id: Annotated[str, Field(min_length=1, max_length=200)]


class ClaimRequest(_Model):
    task_id: Annotated[str, Field(min_length=1, max_length=200)]
    # The job's MongoDB lease on this server: while it is renewed the task stays busy;
    # once it lapses the server goes back to IDLE.
    lease: Lease | None = None


class ClaimResult(_Model):
    accepted: bool
    state: ServerState
    reason: str = ""


class DeleteSlot(_Model):
    """A reserved place in the delete plan: delete `at` (<= `deadline`, the boundary
    deadline it was reserved for)."""

    at: datetime
    deadline: datetime


class CarriedState(_Model):
    """All mutable state of one server; carried whole across continue-as-new."""

    state: ServerState = ServerState.PROVISIONING
    generation: str = ""  # first run id: tells apart servers that reuse a name
    version: int = 0  # grows on every change; the fence for read-model writes
    started_at: datetime | None = None
    instance_id: str | None = None
    main_ip: str | None = None
    billing_start: datetime | None = None
    monthly_cost: float | None = None
    # The provider's price and billing model for this plan (from its quote).
    hourly_cost: float | None = None
    billing_model: BillingModel | None = None
    terminate_at: datetime | None = None
    idle_since: datetime | None = None
    deleted_at: datetime | None = None
    active_tasks: dict[str, datetime] = Field(default_factory=dict)
    claims: dict[str, Lease] = Field(default_factory=dict)
    finished_tasks: list[str] = Field(default_factory=list)
    busy_seconds: float = 0.0
    busy_since: datetime | None = None
    termination: TerminationRequest | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    error: str | None = None
    rejected: list[str] = Field(default_factory=list)
    # The provider account whose quota holds this server's slot; None for servers that
    # took it before quotas were per provider (they keep the shared resource).
    quota_provider: str | None = None
    # This idle server's reservation in the delete plan (None: none held).
    delete_slot: DeleteSlot | None = None


class ServerInput(_Model):
    name: str
    spec: ServerSpec
    # The resolved policy. Left out by clients: the workflow's first activity resolves
    # it from the worker's settings and `overrides`, and carries it across
    # continue-as-new.
    policy: ServerPolicy | None = None
    overrides: PolicyOverrides = Field(default_factory=PolicyOverrides)
    # Warm-pool membership: at a deadline an idle member stays if the pool needs it.
    pool: str | None = None
    # Present only when continuing as new.
    runtime: CarriedState | None = None

    @field_validator("name")
    @classmethod
    def _name_valid(cls, value: str) -> str:
        return validate_server_name(value)

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.name)


def billing_cost(
    start: datetime,
    end: datetime,
    period: timedelta,
    plan: str,
    monthly_cost: float | None,
    hourly_cost: float | None,
    model: BillingModel | None,
) -> tuple[int, float]:
    """Billed units (started periods, each month capped) and their cost at the provider's
    hourly price and monthly cap when the server carries them; records written before
    providers said are priced by Vultr's rule (monthly / 672, 672 a month, GPU 730).
    A period shortened for demos still costs an hour's price, as the emulators bill it.
    On a per-second model the units are the seconds billed (the minimum included)."""
    if model is not None and model.per_second:
        seconds = billing.billed_seconds_for(model, start, end)
        return seconds, billing.charge_for(model, start, end, hourly_cost or 0.0)
    cap = billing.month_cap(plan)
    if model is not None and model.monthly_cap_hours is not None:
        cap = math.ceil(model.monthly_cap_hours)
    units = billing.billed_units(start, end, period, cap)
    if hourly_cost is not None:
        return units, units * hourly_cost
    return units, billing.cost(units, monthly_cost or 0.0, plan)


def planned_from(rt: CarriedState) -> datetime | None:
    """The deadline the delete plan moved the server's end from (None if not moved)."""
    slot = rt.delete_slot
    if slot is None or rt.terminate_at != slot.at or slot.at >= slot.deadline:
        return None
    return slot.deadline


class ServerStatus(_Model):
    """What `status`/`list` show; also the shape of a read-model document."""

    name: str
    workflow_id: str
    generation: str = ""
    state: ServerState
    instance_id: str | None = None
    main_ip: str | None = None
    provider: str = DEFAULT_PROVIDER
    region: str
    plan: str
    tags: list[str] = Field(default_factory=list)  # the spec's own tags, for selection
    billing_start: datetime | None = None
    next_boundary: datetime | None = None
    terminate_at: datetime | None = None
    # The boundary deadline the delete plan moved `terminate_at` earlier from, if it did.
    planned_from: datetime | None = None
    deleted_at: datetime | None = None
    # When its last task ended (None while busy): claims prefer the most recently idle.
    idle_since: datetime | None = None
    billed_hours: int = 0
    # Per-second servers: the seconds billed (minimum included); billed_hours stays 0.
    billed_seconds: int | None = None
    # The period this server is billed by (its resolved policy); None until resolved.
    billing_period_seconds: int | None = None
    monthly_cost: float | None = None
    # What the provider charges, so cost is priced the provider's way (see billing_cost).
    hourly_cost: float | None = None
    billing_model: BillingModel | None = None
    cost: float = 0.0
    busy_seconds: float = 0.0
    active_tasks: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    error: str | None = None
    pool: str | None = None
    # A requested termination not yet carried out: its reason, and `immediately`.
    termination: TerminationRequest | None = None
    # Signals that did not fit the state (a signal cannot answer its sender).
    rejected: list[str] = Field(default_factory=list)
    kind: Literal["server"] = "server"

    @classmethod
    def from_runtime(
        cls,
        name: str,
        spec: ServerSpec,
        policy: ServerPolicy | None,
        rt: CarriedState,
        now: datetime,
        pool: str | None = None,
    ) -> ServerStatus:
        boundary = None
        units = 0
        seconds = None
        cost = 0.0
        per_second = rt.billing_model is not None and rt.billing_model.per_second
        if rt.billing_start is not None and policy is not None:
            end = rt.deleted_at or now
            units, cost = billing_cost(
                rt.billing_start,
                end,
                policy.period,
                spec.plan,
                rt.monthly_cost,
                rt.hourly_cost,
                rt.billing_model,
            )
            if per_second:  # no boundary: seconds, not periods
                units, seconds = 0, units
            elif rt.deleted_at is None:
                boundary = billing.next_boundary(rt.billing_start, now, policy.period)
        busy = rt.busy_seconds
        if rt.busy_since is not None:
            busy += max(0.0, (now - rt.busy_since).total_seconds())
        return cls(
            name=name,
            workflow_id=workflow_id_for(name),
            generation=rt.generation,
            state=rt.state,
            instance_id=rt.instance_id,
            main_ip=rt.main_ip,
            provider=spec.provider,
            region=spec.region,
            plan=spec.plan,
            tags=list(spec.tags),
            billing_start=rt.billing_start,
            next_boundary=boundary,
            terminate_at=rt.terminate_at if rt.state not in (ServerState.TERMINATED,) else None,
            planned_from=planned_from(rt) if rt.state != ServerState.TERMINATED else None,
            deleted_at=rt.deleted_at,
            idle_since=rt.idle_since if not rt.active_tasks else None,
            billed_hours=units,
            billed_seconds=seconds,
            billing_period_seconds=policy.billing_period_seconds if policy else None,
            monthly_cost=rt.monthly_cost,
            hourly_cost=rt.hourly_cost,
            billing_model=rt.billing_model,
            cost=cost,
            busy_seconds=busy,
            active_tasks=sorted(rt.active_tasks),
            timeline=list(rt.timeline),
            error=rt.error,
            pool=pool,
            termination=rt.termination if rt.state not in _ENDING else None,
            rejected=list(rt.rejected),
        )
