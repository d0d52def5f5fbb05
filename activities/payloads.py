"""Inputs and results of the server activities: one model per activity argument."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from core.models import ServerSpec, ServerStatus
from providers.base import BillingModel

__all__ = [
    "CheckReadyInput",
    "CreateInstanceInput",
    "FindInstanceInput",
    "InstanceInfo",
    "InstanceRef",
    "KeepWarmInput",
    "PlanQuote",
    "RecordServerInput",
    "SlotInput",
    "SpecInput",
]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpecInput(_Payload):
    spec: ServerSpec


class PlanQuote(_Payload):
    plan: str
    monthly_cost: float
    # How the provider bills this plan; None in histories written before providers said.
    hourly_cost: float | None = None
    billing: BillingModel | None = None


class FindInstanceInput(_Payload):
    workflow_id: str


class CreateInstanceInput(_Payload):
    workflow_id: str
    hostname: str
    spec: ServerSpec


class InstanceInfo(_Payload):
    """An instance as the workflow records it, the same for every provider."""

    # Histories written before the provider interface carry Vultr's field names.
    model_config = ConfigDict(extra="ignore")

    instance_id: str
    status: str
    ready: bool = False  # the provider's readiness rule, applied by the provider
    main_ip: str | None = None
    created: datetime = Field(validation_alias=AliasChoices("created", "date_created"))
    # Other instances carrying this workflow's tag (duplicates from an ambiguous create).
    duplicates_deleted: list[str] = []


class InstanceRef(_Payload):
    workflow_id: str
    instance_id: str


class CheckReadyInput(_Payload):
    workflow_id: str
    instance_id: str


class SlotInput(_Payload):
    owner: str
    ttl_seconds: float
    # Whose account quota the slot is of; None (histories before per-provider quotas)
    # is the shared resource the default provider keeps.
    provider: str | None = None


class ReserveDeleteInput(_Payload):
    """Reserve a delete slot by `deadline` (a boundary deadline), not before `not_before`."""

    owner: str
    provider: str
    deadline: datetime
    not_before: datetime


class KeepWarmInput(_Payload):
    pool: str
    owner: str
    ttl_seconds: float


class RecordServerInput(_Payload):
    status: ServerStatus
    fence: int
