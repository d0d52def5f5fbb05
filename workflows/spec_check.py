"""SpecCheckWorkflow: a short check of a server spec against the provider's catalog,
run by the worker (which has the key and the catalog) before a server workflow starts."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.payloads import SpecInput
    from activities.provider import ProviderActivities, ProviderDirectory
    from workflows.policies import provider_catalog_queue

__all__ = ["SPEC_CHECK_TIMEOUT", "SpecCheck", "SpecCheckWorkflow"]

# Whole check, catalog load and retries included: the caller waits no longer.
SPEC_CHECK_TIMEOUT = timedelta(seconds=20)


class SpecCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problems: list[str] = Field(default_factory=list)
    # False when the catalog could not be loaded; `unchecked` says why.
    checked: bool = True
    unchecked: str = ""


@workflow.defn(name="SpecCheckWorkflow")
class SpecCheckWorkflow:
    @workflow.run
    async def run(self, request: SpecInput) -> SpecCheck:
        provider = request.spec.provider
        try:
            served: list[str] = await workflow.execute_activity_method(
                ProviderDirectory.served_providers,
                start_to_close_timeout=timedelta(seconds=5),
                schedule_to_close_timeout=timedelta(seconds=8),
                summary="which providers the workers serve",
            )
        except ActivityError as err:
            return SpecCheck(checked=False, unchecked=_reason(err))
        if provider not in served:
            return SpecCheck(
                problems=[
                    f"provider {provider!r} is not served by the workers (they serve "
                    f"{', '.join(served)}); set its API token where the worker runs"
                ]
            )
        spec = request.spec
        try:
            problems: list[str] = await workflow.execute_activity_method(
                ProviderActivities.spec_problems,
                request,
                task_queue=provider_catalog_queue(workflow.info().task_queue, provider),
                start_to_close_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=SPEC_CHECK_TIMEOUT - timedelta(seconds=2),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=2)),
                summary=f"check {spec.region} {spec.plan} image {spec.image_ref}",
            )
        except ActivityError as err:
            return SpecCheck(checked=False, unchecked=_reason(err))
        return SpecCheck(problems=problems)


def _reason(err: ActivityError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)
