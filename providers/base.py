"""What every provider declares, whatever its API: how it bills.

A `BillingModel` says how a provider turns a server's lifetime into money; the
deadline and cost arithmetic in `orchestrator.billing` works from it alone, so the
lifecycle logic never names a provider.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BillingModel"]


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
        """No boundary worth waiting for: an idle server goes after an idle window."""
        return self.period_seconds < 60

    @classmethod
    def hourly(
        cls, *, monthly_cap_hours: float | None = None, period_seconds: float = 3600
    ) -> BillingModel:
        """Every started hour from creation (`period_seconds` shortens it for demos)."""
        return cls(period_seconds=period_seconds, monthly_cap_hours=monthly_cap_hours)
