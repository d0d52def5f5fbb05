"""Reconciliation: compare what a provider runs (instances that are ours, by their tags) with
the server workflows that should own them, and report what needs doing. Instances that
are not ours are counted and never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.failures import provider_failure
from activities.fleet_store import SERVERS_COLLECTION, provider_filter
from activities.leases import mongo_errors
from core.lifecycle import ACTIVE_STATES
from core.reconciliation import Finding, Record, findings, workflows_to_check
from providers import DEFAULT_PROVIDER
from providers.base import Provider
from providers.errors import ProviderError

__all__ = [
    "FleetReconcileReport",
    "FleetScan",
    "ReconcileActivities",
    "ReconcileRecords",
    "ReconcileReport",
    "ScanInput",
]

RECONCILIATIONS_COLLECTION = "reconciliations"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanInput(_Model):
    grace_seconds: float = Field(ge=0)


class FleetScan(_Model):
    instances_seen: int  # ours
    # Listed but not ours (see core.naming): never deleted, adopted or signalled.
    not_ours: int = 0
    not_ours_ids: list[str] = Field(default_factory=list)  # the first few, each once
    findings: list[Finding]


class ReconcileReport(_Model):
    # Reports recorded before reconciliation covered every provider are Vultr's.
    provider: str = DEFAULT_PROVIDER
    started_at: datetime
    instances_seen: int
    not_ours: int = 0
    not_ours_ids: list[str] = Field(default_factory=list)
    actions: list[str]
    findings: list[Finding]


class FleetReconcileReport(_Model):
    """One report per provider reconciled, and why any provider's run failed."""

    reports: list[ReconcileReport] = Field(default_factory=list)
    failures: dict[str, str] = Field(default_factory=dict)


class ReconcileActivities:
    def __init__(self, client: Client, provider: Provider, db: AsyncDatabase[Any]) -> None:
        self._client = client
        self._provider = provider
        self._db = db

    async def _running(self, workflow_id: str) -> bool:
        try:
            desc = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return desc.status == WorkflowExecutionStatus.RUNNING

    @activity.defn(name="scan_fleet")
    async def scan_fleet(self, request: ScanInput) -> FleetScan:
        """Orphans (ours, no live workflow), duplicates (a second instance of one
        workflow) and servers whose instance is gone at the provider; all older than
        the grace."""
        now = datetime.now(UTC)
        grace = timedelta(seconds=request.grace_seconds)
        try:
            listing = await self._provider.list_owned()
        except ProviderError as error:
            raise provider_failure(error, "listing managed instances") from None
        with mongo_errors("reading the fleet read model"):
            records = [
                Record.model_validate(doc)
                async for doc in self._db[SERVERS_COLLECTION].find(
                    {
                        "state": {"$in": [s.value for s in ACTIVE_STATES]},
                        **provider_filter(self._provider.id),
                    },
                    {"workflow_id": 1, "instance_id": 1, "state": 1, "billing_start": 1},
                )
            ]
        running = set()
        for wf in sorted(workflows_to_check(listing.instances, records, now, grace)):
            if await self._running(wf):
                running.add(wf)
            activity.heartbeat(wf)
        found = findings(listing.instances, records, running, now, grace, self._provider.id)
        return FleetScan(
            instances_seen=len(listing.instances),
            not_ours=listing.not_ours,
            not_ours_ids=listing.not_ours_ids,
            findings=found,
        )


class ReconcileRecords:
    """The reconciliation record, on the main queue (it needs MongoDB, not a provider)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._db = db

    @activity.defn(name="record_reconciliation")
    async def record_reconciliation(self, report: ReconcileReport) -> None:
        with mongo_errors("recording the reconciliation"):
            await self._db[RECONCILIATIONS_COLLECTION].insert_one(report.model_dump(mode="python"))
