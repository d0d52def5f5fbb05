"""Provider activities: the server workflow's calls to its cloud, through the Provider
protocol. Each worker serves one provider's rate-limited queue with one instance of
these, so each attempt makes one API request where it can and the queue's rate limit
is a limit on requests to that provider. Every one heartbeats while it waits, so the
workflow's heartbeat timeout notices a killed worker within seconds."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.failures import provider_failure
from activities.heartbeat import heartbeating
from activities.metrics import count_delete_retry
from activities.payloads import (
    CheckReadyInput,
    CreateInstanceInput,
    FindInstanceInput,
    InstanceInfo,
    InstanceRef,
    PlanQuote,
    SpecInput,
)
from providers.base import Instance, Provider
from providers.errors import ProviderError, ProviderValidationError

__all__ = ["ProviderActivities", "ProviderDirectory"]


def _info(instance: Instance, duplicates: list[str] | None = None) -> InstanceInfo:
    if instance.created is None:
        raise ApplicationError(
            f"the provider returned instance {instance.id} without a creation time; cannot bill it",
            type="ProviderProtocolError",
        )
    return InstanceInfo(
        instance_id=instance.id,
        status=instance.status,
        ready=instance.ready,
        main_ip=instance.ip,
        created=instance.created,
        duplicates_deleted=duplicates or [],
    )


class ProviderActivities:
    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    @activity.defn(name="quote_plan")
    @heartbeating
    async def quote_plan(self, request: SpecInput) -> PlanQuote:
        """Check the spec against the provider's catalog and return the plan's price."""
        try:
            quote = await self._provider.quote(request.spec)
        except ProviderValidationError as error:
            raise provider_failure(error, "server spec refused") from None
        except ProviderError as error:
            raise provider_failure(error, "loading the provider's catalog") from None
        return PlanQuote(
            plan=quote.plan,
            monthly_cost=quote.monthly_price,
            hourly_cost=quote.hourly_price,
            billing=quote.billing,
        )

    @activity.defn(name="spec_problems")
    @heartbeating
    async def spec_problems(self, request: SpecInput) -> list[str]:
        """Every way the spec disagrees with the catalog (empty when it fits)."""
        try:
            await self._provider.quote(request.spec)
        except ProviderValidationError as error:
            return list(error.problems)
        except ProviderError as error:
            raise provider_failure(error, "loading the provider's catalog") from None
        return []

    async def _find(self, workflow_id: str) -> InstanceInfo | None:
        """The instance this workflow owns; extra ones (from an ambiguous create) are deleted."""
        found = await self._provider.find(workflow_id)
        if not found:
            return None
        keep, extra = found[0], found[1:]
        for duplicate in extra:
            activity.logger.warning(
                "deleting duplicate instance %s of %s (keeping %s)",
                duplicate.id,
                workflow_id,
                keep.id,
            )
            await self._provider.delete(duplicate.id)
        return _info(keep, [d.id for d in extra])

    @activity.defn(name="find_instance")
    @heartbeating
    async def find_instance(self, request: FindInstanceInput) -> InstanceInfo | None:
        try:
            return await self._find(request.workflow_id)
        except ProviderError as error:
            raise provider_failure(error, "looking up the instance") from None

    @activity.defn(name="create_instance")
    @heartbeating
    async def create_instance(self, request: CreateInstanceInput) -> InstanceInfo:
        """Create the instance once. A retry looks first: the previous attempt may have
        created it even though its answer was lost."""
        try:
            if activity.info().attempt > 1:
                existing = await self._find(request.workflow_id)
                if existing is not None:
                    activity.logger.info(
                        "adopting %s created by an earlier attempt", existing.instance_id
                    )
                    return existing
            instance = await self._provider.create(
                request.spec, owner=request.workflow_id, hostname=request.hostname
            )
        except ProviderError as error:
            doing = "creating the instance"
            if error.ambiguous:
                doing += " (outcome unknown: the retry looks it up before creating again)"
            # An ambiguous create may have made an instance: always retry, so the next
            # attempt finds and adopts it instead of the workflow failing past it.
            raise provider_failure(error, doing, always_retry=error.ambiguous) from None
        return _info(instance)

    @activity.defn(name="check_ready")
    @heartbeating
    async def check_ready(self, request: CheckReadyInput) -> InstanceInfo:
        """One look at the instance; not ready yet is a retryable failure, so the retry
        policy paces the polling and each poll goes through the rate-limited queue."""
        try:
            instance = await self._provider.get(request.instance_id)
        except ProviderError as error:
            raise provider_failure(error, "checking readiness") from None
        if instance is None:
            # Providers can answer 404 for a few seconds right after a create.
            raise ApplicationError(
                f"instance {request.instance_id} not visible yet",
                type="InstanceNotReady",
                category=ApplicationErrorCategory.BENIGN,
            )
        info = _info(instance)
        if not info.ready:
            raise ApplicationError(
                f"instance {instance.id} is {instance.status}, not ready yet",
                type="InstanceNotReady",
                category=ApplicationErrorCategory.BENIGN,
            )
        return info

    @activity.defn(name="delete_instance")
    @heartbeating
    async def delete_instance(self, request: InstanceRef) -> bool:
        """Delete; gone counts as done. Returns whether it still existed."""
        count_delete_retry()
        try:
            return await self._provider.delete(request.instance_id)
        except ProviderError as error:
            raise provider_failure(
                error, f"deleting instance {request.instance_id}", always_retry=True
            ) from None

    @activity.defn(name="confirm_deleted")
    @heartbeating
    async def confirm_deleted(self, request: InstanceRef) -> None:
        try:
            instance = await self._provider.get(request.instance_id)
        except ProviderError as error:
            raise provider_failure(error, "confirming deletion", always_retry=True) from None
        if instance is not None:
            raise ApplicationError(
                f"instance {instance.id} still exists after delete ({instance.status})",
                type="InstanceStillExists",
                category=ApplicationErrorCategory.BENIGN,
            )


class ProviderDirectory:
    """Which providers this worker serves, asked on the main queue before a server
    names one: a provider no worker serves would leave its server waiting for ever."""

    def __init__(self, served: list[str]) -> None:
        self._served = served

    @activity.defn(name="served_providers")
    async def served_providers(self) -> list[str]:
        return list(self._served)
