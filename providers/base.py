"""What the lifecycle needs of a cloud, and nothing more.

`Provider` is the protocol each cloud implements (validate and quote a spec, create an
instance marked with our ownership tags, find a workflow's instances, get one, delete
one with gone = done, list what we own). Its errors are the set in `providers.errors`.
A `BillingModel` says how the provider turns a server's lifetime into money; the
deadline and cost arithmetic in `core.billing` works from it alone, so the
lifecycle logic never names a provider.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from core.models import ServerSpec

__all__ = ["BillingModel", "Instance", "Owned", "Provider", "Quote"]


class BillingModel(BaseModel):
    """How a provider bills one server type.

    - `period_seconds`: the unit billed: 3600 for every started hour, 1 for per second.
    - `anchor`: where periods start: at the server's creation (Vultr, Hetzner), or on
      clock hours (each commenced clock hour, as OVHcloud bills).
    - `minimum_seconds` / `minimum_charge`: the least a server costs (DigitalOcean:
      60 s or $0.01, whichever is more).
    - `monthly_cap_hours`: billed hours per calendar month beyond which nothing more is
      charged (Vultr 672, GPU 730; Hetzner the monthly price over the hourly one).
    - `stopped_bills`: whether a powered-off server still costs (true on all three).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_seconds: float = Field(gt=0)
    anchor: Literal["creation", "clock_hour"] = "creation"
    minimum_seconds: float = Field(default=0.0, ge=0)
    minimum_charge: float = Field(default=0.0, ge=0)
    monthly_cap_hours: float | None = Field(default=None, gt=0)
    stopped_bills: bool = True

    @model_validator(mode="after")
    def _clock_hours_are_hours(self) -> BillingModel:
        if self.anchor == "clock_hour" and 3600 % self.period_seconds:
            raise ValueError(
                f"a period of {self.period_seconds:g} s cannot be anchored on clock hours; "
                "it must divide 3600"
            )
        return self

    @property
    def per_second(self) -> bool:
        """No boundary worth waiting for: an idle server goes after an idle window. Only a
        true per-second unit counts: an hour shortened to seconds for a demo is still hourly."""
        return self.period_seconds <= 1

    @classmethod
    def hourly(
        cls, *, monthly_cap_hours: float | None = None, period_seconds: float = 3600
    ) -> BillingModel:
        """Every started hour from creation (`period_seconds` shortens it for demos)."""
        return cls(period_seconds=period_seconds, monthly_cap_hours=monthly_cap_hours)


class Instance(BaseModel):
    """A server as a provider reports it, in the same shape for every provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = ""  # the label or name the provider shows
    region: str = ""
    plan: str = ""
    image: str = ""  # what it was built from (an OS id, an image name)
    status: str = ""  # the provider's own words, for people
    ready: bool = False  # the provider's readiness rule, applied
    created: datetime | None = None  # the provider's creation time: the billing start
    ip: str | None = None
    # Ownership marks as `key:value` strings whatever the provider stores (tags or
    # labels), so `core.naming.owner_of` is the one ownership test.
    tags: tuple[str, ...] = ()


class Quote(BaseModel):
    """A spec that the provider's catalog accepts, with what it costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: str
    hourly_price: float = Field(ge=0)
    monthly_price: float = Field(ge=0)
    billing: BillingModel


class Owned(BaseModel):
    """What a listing held: our instances, and how many others it held (never touched)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instances: list[Instance]
    not_ours: int = 0
    not_ours_ids: list[str] = Field(default_factory=list)  # the first few, in listing order


class Provider(Protocol):
    """One cloud account. Every method is one logical call, may raise any
    `providers.errors.ProviderError`, and decides ownership client-side."""

    @property
    def id(self) -> str:
        """The provider id a server carries (`vultr`, `hetzner`, `digitalocean`)."""
        ...

    async def quote(self, spec: ServerSpec) -> Quote:
        """Check region, plan and image against the catalog; ProviderValidationError
        naming every problem and the valid choices."""
        ...

    async def create(self, spec: ServerSpec, *, owner: str, hostname: str) -> Instance:
        """Create an instance carrying the ownership marks of workflow `owner`. Not
        idempotent: after an ambiguous failure, `find` before creating again."""
        ...

    async def find(self, owner: str) -> list[Instance]:
        """The instances workflow `owner` owns, oldest first."""
        ...

    async def get(self, instance_id: str) -> Instance | None:
        """One instance, or None when it does not exist (any more)."""
        ...

    async def delete(self, instance_id: str) -> bool:
        """Delete; True if it existed, False if it was already gone (gone = done)."""
        ...

    async def list_owned(self) -> Owned:
        """Every instance we own in the account, all pages followed."""
        ...
