"""Checks of a create request before it is sent: always its own rules, and against
the account's catalog (regions, plans, operating systems) once one is loaded.

A request Vultr would refuse is cheaper to refuse here: the refusal names every
problem at once, and a provisioning workflow fails before it takes a quota slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from core.validation import validation_problems
from providers.vultr.errors import VultrValidationError
from providers.vultr.models import CreateInstanceRequest, OperatingSystem, Plan, Region

__all__ = ["Catalog", "validate_create_request"]

_MAX_LISTED = 12  # how many valid choices an error message names


def _choices(values: Iterable[object]) -> str:
    ordered = sorted(str(value) for value in values)
    shown = ", ".join(ordered[:_MAX_LISTED])
    more = len(ordered) - _MAX_LISTED
    return f"{shown}, ... ({more} more)" if more > 0 else shown or "none"


class Catalog(BaseModel):
    """What the account can deploy, keyed by id."""

    model_config = ConfigDict(frozen=True)

    regions: dict[str, Region]
    plans: dict[str, Plan]
    os: dict[int, OperatingSystem]

    @classmethod
    def build(
        cls,
        regions: Iterable[Region],
        plans: Iterable[Plan],
        os: Iterable[OperatingSystem],
    ) -> Catalog:
        return cls(
            regions={region.id: region for region in regions},
            plans={plan.id: plan for plan in plans},
            os={item.id: item for item in os},
        )

    def problems(self, request: CreateInstanceRequest) -> list[str]:
        """Every way `request` disagrees with the catalog; empty when it fits."""
        found: list[str] = []
        region_known = request.region in self.regions
        if not region_known:
            found.append(f"unknown region {request.region!r} (known: {_choices(self.regions)})")
        plan = self.plans.get(request.plan)
        if plan is None:
            found.append(f"unknown plan {request.plan!r} (known: {_choices(self.plans)})")
        elif region_known and request.region not in plan.locations:
            found.append(
                f"plan {plan.id!r} is not available in region {request.region!r} "
                f"(available in: {_choices(plan.locations)})"
            )
        if request.os_id is not None and request.os_id not in self.os:
            found.append(f"unknown os_id {request.os_id} (known: {_choices(self.os)})")
        return found


def _describe(exc: ValidationError) -> list[str]:
    return validation_problems(exc)


def validate_create_request(
    request: CreateInstanceRequest | Mapping[str, Any],
    catalog: Catalog | None = None,
) -> CreateInstanceRequest:
    """The request, re-validated; raises VultrValidationError naming every problem.

    Re-validating a model instance catches one built with `model_construct` or
    copied with `model_copy(update=...)`, which skip validation.
    """
    data = request.model_dump() if isinstance(request, CreateInstanceRequest) else request
    try:
        checked = CreateInstanceRequest.model_validate(data)
    except ValidationError as exc:
        raise VultrValidationError(_describe(exc)) from None
    if catalog is not None:
        found = catalog.problems(checked)
        if found:
            raise VultrValidationError(found)
    return checked
