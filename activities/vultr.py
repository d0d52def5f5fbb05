"""Vultr activities. Each attempt makes one API request where it can, so the task-queue
rate limit on the Vultr queue is a limit on requests to Vultr."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.failures import vultr_failure
from activities.payloads import (
    CheckReadyInput,
    CreateInstanceInput,
    FindInstanceInput,
    InstanceInfo,
    InstanceRef,
    PlanQuote,
    SpecInput,
)
from orchestrator.naming import MANAGED_TAG, instance_label, instance_tag, owner_of
from orchestrator.vultr import (
    CreateInstanceRequest,
    Instance,
    VultrClient,
    VultrError,
    VultrNotFound,
    VultrValidationError,
    validate_create_request,
)

__all__ = ["VultrActivities"]


def _info(instance: Instance, duplicates: list[str] | None = None) -> InstanceInfo:
    if instance.date_created is None:
        raise ApplicationError(
            f"Vultr returned instance {instance.id} without date_created; cannot bill it",
            type="VultrProtocolError",
        )
    return InstanceInfo(
        instance_id=instance.id,
        status=instance.status,
        power_status=instance.power_status,
        server_status=instance.server_status,
        main_ip=instance.main_ip or None,
        date_created=instance.date_created,
        duplicates_deleted=duplicates or [],
    )


class VultrActivities:
    def __init__(self, client: VultrClient) -> None:
        self._client = client

    @activity.defn(name="quote_plan")
    async def quote_plan(self, request: SpecInput) -> PlanQuote:
        """Check region, plan and OS against Vultr's catalog and return the plan's price."""
        spec = request.spec
        try:
            # Loaded once per worker process: three requests, outside the per-server budget.
            catalog = self._client.catalog or await self._client.load_catalog()
            validate_create_request(
                CreateInstanceRequest(region=spec.region, plan=spec.plan, os_id=spec.os_id),
                catalog,
            )
        except VultrValidationError as error:
            raise vultr_failure(error, "server spec refused") from None
        except VultrError as error:
            raise vultr_failure(error, "loading Vultr's catalog") from None
        plan = catalog.plans[spec.plan]
        return PlanQuote(plan=plan.id, monthly_cost=plan.monthly_cost)

    async def _find(self, workflow_id: str) -> InstanceInfo | None:
        """The instance this workflow owns; extra ones (from an ambiguous create) are deleted."""
        found = await self._client.list_instances(tag=instance_tag(workflow_id))
        # The filter only narrows the listing: ownership is checked on each instance.
        found = [i for i in found if owner_of(i.tags) == workflow_id]
        if not found:
            return None
        found.sort(key=lambda i: (i.date_created or 0, i.id))  # type: ignore[arg-type, return-value]
        keep, extra = found[0], found[1:]
        for duplicate in extra:
            activity.logger.warning(
                "deleting duplicate instance %s of %s (keeping %s)",
                duplicate.id,
                workflow_id,
                keep.id,
            )
            await self._client.delete_instance(duplicate.id)
        return _info(keep, [d.id for d in extra])

    @activity.defn(name="find_instance")
    async def find_instance(self, request: FindInstanceInput) -> InstanceInfo | None:
        try:
            return await self._find(request.workflow_id)
        except VultrError as error:
            raise vultr_failure(error, "looking up the instance") from None

    @activity.defn(name="create_instance")
    async def create_instance(self, request: CreateInstanceInput) -> InstanceInfo:
        """Create the instance once. A retry looks first: the previous attempt may have
        created it even though its answer was lost."""
        spec = request.spec
        try:
            if activity.info().attempt > 1:
                existing = await self._find(request.workflow_id)
                if existing is not None:
                    activity.logger.info(
                        "adopting %s created by an earlier attempt", existing.instance_id
                    )
                    return existing
            instance = await self._client.create_instance(
                CreateInstanceRequest(
                    region=spec.region,
                    plan=spec.plan,
                    os_id=spec.os_id,
                    label=instance_label(request.workflow_id),
                    hostname=request.hostname,
                    tags=[MANAGED_TAG, instance_tag(request.workflow_id), *spec.tags],
                    sshkey_id=list(spec.ssh_key_ids),
                    user_data=spec.cloud_init,
                )
            )
        except VultrError as error:
            doing = "creating the instance"
            if error.ambiguous:
                doing += " (outcome unknown: the retry looks it up before creating again)"
            # An ambiguous create may have made an instance: always retry, so the next
            # attempt finds and adopts it instead of the workflow failing past it.
            raise vultr_failure(error, doing, always_retry=error.ambiguous) from None
        return _info(instance)

    @activity.defn(name="check_ready")
    async def check_ready(self, request: CheckReadyInput) -> InstanceInfo:
        """One look at the instance; not ready yet is a retryable failure, so the retry
        policy paces the polling and each poll goes through the rate-limited queue."""
        try:
            instance = await self._client.get_instance(request.instance_id)
        except VultrNotFound:
            # Vultr can answer 404 for a few seconds right after a create.
            raise ApplicationError(
                f"instance {request.instance_id} not visible yet",
                type="InstanceNotReady",
                category=ApplicationErrorCategory.BENIGN,
            ) from None
        except VultrError as error:
            raise vultr_failure(error, "checking readiness") from None
        info = _info(instance)
        if not info.ready:
            raise ApplicationError(
                f"instance {instance.id} is {instance.status}/{instance.power_status}/"
                f"{instance.server_status}, waiting for active/running/ok",
                type="InstanceNotReady",
                category=ApplicationErrorCategory.BENIGN,
            )
        return info

    @activity.defn(name="delete_instance")
    async def delete_instance(self, request: InstanceRef) -> bool:
        """Delete; a 404 counts as done. Returns whether it still existed."""
        try:
            return await self._client.delete_instance(request.instance_id)
        except VultrError as error:
            raise vultr_failure(
                error, f"deleting instance {request.instance_id}", always_retry=True
            ) from None

    @activity.defn(name="confirm_deleted")
    async def confirm_deleted(self, request: InstanceRef) -> None:
        try:
            instance = await self._client.get_instance(request.instance_id)
        except VultrNotFound:
            return
        except VultrError as error:
            raise vultr_failure(error, "confirming deletion", always_retry=True) from None
        raise ApplicationError(
            f"instance {instance.id} still exists after delete ({instance.status})",
            type="InstanceStillExists",
            category=ApplicationErrorCategory.BENIGN,
        )
