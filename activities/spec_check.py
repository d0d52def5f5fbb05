"""Checking a server spec against the provider's catalog on the worker, which holds the
API key: clients need no key to have an unknown region, plan or OS refused."""

from __future__ import annotations

from temporalio import activity

from activities.failures import vultr_failure
from activities.payloads import SpecInput
from orchestrator.vultr import (
    VultrClient,
    VultrError,
    VultrValidationError,
    validate_create_request,
)

__all__ = ["SpecCheckActivities"]


class SpecCheckActivities:
    def __init__(self, client: VultrClient) -> None:
        self._client = client

    @activity.defn(name="spec_problems")
    async def spec_problems(self, request: SpecInput) -> list[str]:
        """Every way the spec disagrees with the catalog (empty when it fits)."""
        spec = request.spec
        try:
            # Loaded once per worker process and shared with quote_plan.
            catalog = self._client.catalog or await self._client.load_catalog()
        except VultrError as error:
            raise vultr_failure(error, "loading Vultr's catalog") from None
        try:
            validate_create_request(
                {
                    "region": spec.region,
                    "plan": spec.plan,
                    "os_id": spec.os_id,
                    "tags": list(spec.tags),
                    "sshkey_id": list(spec.ssh_key_ids),
                    "user_data": spec.cloud_init,
                },
                catalog,
            )
        except VultrValidationError as exc:
            return list(exc.problems)
        return []
