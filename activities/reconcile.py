"""Reconciliation: compare what a provider runs (instances that are ours, by their tags) with
the server workflows that should own them, and report what needs doing. Instances that
are not ours are counted and never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.failures import provider_failure
from activities.fleet_store import SERVERS_COLLECTION, provider_filter
from activities.leases import mongo_errors
from orchestrator.lifecycle import ServerState
from orchestrator.naming import WORKFLOW_ID_PREFIX, owner_of
from providers.base import Instance, Provider
from providers.errors import ProviderError

__all__ = [
    "FleetScan",
    "Finding",
    "ReconcileActivities",
    "ReconcileRecords",
    "ReconcileReport",
    "ScanInput",
]

RECONCILIATIONS_COLLECTION = "reconciliations"
# States in which the workflow's instance must exist at Vultr.
SERVING = (ServerState.READY.value, ServerState.EXECUTING.value, ServerState.IDLE.value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanInput(_Model):
    grace_seconds: float = Field(ge=0)


class Finding(_Model):
    kind: Literal["orphan", "duplicate", "gone"]
    workflow_id: str
    instance_id: str
    region: str = ""
    plan: str = ""
    os_id: int = 0
    created: datetime | None = None
    detail: str = ""


class FleetScan(_Model):
    instances_seen: int  # ours
    # Listed but not ours (see orchestrator.naming): never deleted, adopted or signalled.
    not_ours: int = 0
    findings: list[Finding]


class ReconcileReport(_Model):
    started_at: datetime
    instances_seen: int
    not_ours: int = 0
    actions: list[str]
    findings: list[Finding]


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
        by_workflow: dict[str, list[Instance]] = {}
        for inst in listing.instances:
            wf = owner_of(inst.tags)
            if wf is not None and inst.created and now - inst.created >= grace:
                by_workflow.setdefault(wf, []).append(inst)

        with mongo_errors("reading the fleet read model"):
            records = {
                doc["workflow_id"]: doc
                async for doc in self._db[SERVERS_COLLECTION].find(
                    {
                        "state": {
                            "$in": [
                                *SERVING,
                                ServerState.PROVISIONING.value,
                                ServerState.TERMINATING.value,
                            ]
                        },
                        **provider_filter(self._provider.id),
                    },
                    {"workflow_id": 1, "instance_id": 1, "state": 1, "billing_start": 1},
                )
            }
        findings: list[Finding] = []
        for wf, insts in sorted(by_workflow.items()):
            running = await self._running(wf)
            owned = records.get(wf, {}).get("instance_id") if running else None
            for index, inst in enumerate(insts):
                base = {
                    "workflow_id": wf,
                    "instance_id": inst.id,
                    "region": inst.region,
                    "plan": inst.plan,
                    "os_id": int(inst.image) if inst.image.isdigit() else 0,
                    "created": inst.created,
                }
                if not running:
                    kind = "orphan" if index == 0 else "duplicate"
                    findings.append(Finding(kind=kind, detail="no running workflow", **base))
                elif owned is not None and inst.id != owned:
                    findings.append(
                        Finding(kind="duplicate", detail=f"workflow owns {owned}", **base)
                    )
            activity.heartbeat(wf)

        live_ids = {i.id for i in listing.instances}
        for wf, doc in records.items():
            started = doc.get("billing_start")
            if (
                doc.get("state") in SERVING
                and doc.get("instance_id")
                and doc["instance_id"] not in live_ids
                and started is not None
                and now - started >= grace
                and await self._running(wf)
            ):
                findings.append(
                    Finding(
                        kind="gone",
                        workflow_id=wf,
                        instance_id=doc["instance_id"],
                        detail=f"instance no longer listed at {self._provider.id}",
                    )
                )
        return FleetScan(
            instances_seen=len(listing.instances), not_ours=listing.not_ours, findings=findings
        )


class ReconcileRecords:
    """The reconciliation record, on the main queue (it needs MongoDB, not a provider)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._db = db

    @activity.defn(name="record_reconciliation")
    async def record_reconciliation(self, report: ReconcileReport) -> None:
        with mongo_errors("recording the reconciliation"):
            await self._db[RECONCILIATIONS_COLLECTION].insert_one(report.model_dump(mode="python"))


def server_name(workflow_id: str) -> str:
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)
