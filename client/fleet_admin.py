"""Fleet-wide operations on demand: an account's quota, and a reconciliation run now."""

from __future__ import annotations

import asyncio
import uuid

from pydantic import BaseModel

from activities.fleet_store import quota_resource
from activities.reconcile import FleetReconcileReport
from client.connection import write_concern
from client.errors import FleetError
from client.fleet import ServerFleet
from leases import LeaseStore
from workflows.reconcile import ReconcileFleetWorkflow
from workflows.schedules import reconcile_input

__all__ = ["AccountQuota", "ReconcileStillRunning", "account_quota", "reconcile_now"]


class AccountQuota(BaseModel):
    provider: str
    limit: int | None  # None until the first server takes a slot (or `set_to`)
    taken: int


class ReconcileStillRunning(FleetError):
    def __init__(self, workflow_id: str, seconds: float) -> None:
        super().__init__(
            f"reconciliation did not finish within {seconds:g} s; it goes on as workflow "
            f"{workflow_id} (see the Temporal web UI)"
        )
        self.workflow_id = workflow_id


async def account_quota(
    fleet: ServerFleet, provider: str, set_to: int | None = None
) -> AccountQuota:
    """The provider account's stored quota and the slots taken, after storing `set_to`
    (every worker obeys a new limit at once)."""
    resource = quota_resource(provider)
    async with fleet.mongo("read or change the account quota") as db:
        store = LeaseStore(db, write_concern=write_concern(fleet.settings))
        if set_to is not None:
            await store.set_limit(resource, set_to)
        limit = await store.get_limit(resource)
        taken = len(await store.holders(resource))
    return AccountQuota(provider=provider, limit=limit, taken=taken)


async def reconcile_now(fleet: ServerFleet, wait_seconds: float) -> FleetReconcileReport:
    """Run reconciliation once over every provider the workers serve and wait for its
    report; none starts when MongoDB does not answer (the run needs it)."""
    async with fleet.mongo("reconcile") as db:
        await db.command("ping")
    handle = await fleet.client.start_workflow(
        ReconcileFleetWorkflow.run,
        reconcile_input(fleet.settings),
        id=f"reconcile-now-{uuid.uuid4().hex[:8]}",
        task_queue=fleet.settings.temporal_task_queue,
    )
    try:
        return await asyncio.wait_for(handle.result(), wait_seconds)
    except TimeoutError:
        raise ReconcileStillRunning(handle.id, wait_seconds) from None
