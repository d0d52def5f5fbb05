"""Reconciliation: ReconcileWorkflow adopts or deletes one provider's orphans, deletes its
duplicates, and ends server workflows whose instance vanished there. ReconcileFleetWorkflow
(what the Schedule and the CLI start) runs one of those, as a child, per provider the
workers serve."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.payloads import InstanceRef
    from activities.provider import ProviderActivities, ProviderDirectory
    from activities.reconcile import (
        FleetReconcileReport,
        FleetScan,
        ReconcileActivities,
        ReconcileRecords,
        ReconcileReport,
        ScanInput,
    )
    from core.models import ServerInput, ServerPolicy, ServerSpec
    from core.naming import NAME_PATTERN, name_from_workflow_id
    from core.reconciliation import Finding
    from providers import DEFAULT_PROVIDER
    from workflows.policies import (
        DELETE_RETRY,
        MONGO_RETRY,
        PROVIDER_HEARTBEAT_TIMEOUT,
        PROVIDER_RETRY,
        provider_task_queue,
    )
    from workflows.server import ServerWorkflow
    from workflows.server_start import server_start_options

__all__ = [
    "RECONCILE_SCHEDULE_ID",
    "ReconcileFleetWorkflow",
    "ReconcileInput",
    "ReconcileWorkflow",
]

RECONCILE_SCHEDULE_ID = "reconcile-fleet"


class ReconcileInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: float = Field(default=600, ge=0)
    orphan_action: Literal["adopt", "delete"] = "adopt"
    # Adopted servers' policy: None lets the worker resolve it from its settings.
    policy: ServerPolicy | None = None
    default_os_id: int = 2284
    # One provider; None: ReconcileWorkflow takes the default provider, and
    # ReconcileFleetWorkflow every provider the workers serve.
    provider: str | None = None


@workflow.defn(name="ReconcileFleetWorkflow")
class ReconcileFleetWorkflow:
    """One child run per provider, so each scans on its own rate-limited queue and one
    provider's outage does not hold up (or fail) the others' reconciliation."""

    @workflow.run
    async def run(self, input: ReconcileInput) -> FleetReconcileReport:
        providers = (
            [input.provider]
            if input.provider
            else await workflow.execute_activity_method(
                ProviderDirectory.served_providers,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=MONGO_RETRY,
                summary="the providers the workers serve",
            )
        )
        workflow.set_current_details(f"reconciling {', '.join(providers)}")
        runs = [
            workflow.execute_child_workflow(
                ReconcileWorkflow.run,
                input.model_copy(update={"provider": provider}),
                id=f"{workflow.info().workflow_id}-{provider}",
                static_summary=f"reconcile {provider}",
            )
            for provider in providers
        ]
        fleet = FleetReconcileReport()
        for provider, outcome in zip(
            providers, await asyncio.gather(*runs, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, ChildWorkflowError):
                fleet.failures[provider] = str(outcome.cause or outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                fleet.reports.append(outcome)
        return fleet


@workflow.defn(name="ReconcileWorkflow")
class ReconcileWorkflow:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileReport:
        started = workflow.now()
        provider = input.provider or DEFAULT_PROVIDER
        queue = provider_task_queue(workflow.info().task_queue, provider)
        workflow.set_current_details(f"scanning {provider} instances that are ours")
        scan: FleetScan = await workflow.execute_activity_method(
            ReconcileActivities.scan_fleet,
            ScanInput(grace_seconds=input.grace_seconds),
            task_queue=queue,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=PROVIDER_RETRY,
            summary="list managed instances and match them to workflows",
        )
        actions: list[str] = []
        counter = workflow.metric_meter().create_counter(
            "reconciled_instances", "Orphans, duplicates and vanished instances handled", "1"
        )
        for finding in scan.findings:
            actions.append(await self._act(finding, input, queue))
            counter.add(1, {"kind": finding.kind})
            workflow.set_current_details("\n\n".join(actions))
        report = ReconcileReport(
            provider=provider,
            started_at=started,
            instances_seen=scan.instances_seen,
            not_ours=scan.not_ours,
            not_ours_ids=scan.not_ours_ids,
            actions=actions,
            findings=scan.findings,
        )
        await workflow.execute_activity_method(
            ReconcileRecords.record_reconciliation,
            report,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=MONGO_RETRY,
            summary=f"record {len(actions)} action(s)",
        )
        return report

    async def _act(self, finding: Finding, input: ReconcileInput, queue: str) -> str:
        name = name_from_workflow_id(finding.workflow_id)
        adoptable = (
            finding.kind == "orphan"
            and input.orphan_action == "adopt"
            and finding.workflow_id != name
            and NAME_PATTERN.fullmatch(name) is not None
        )
        if adoptable:
            spec = ServerSpec(
                provider=input.provider or DEFAULT_PROVIDER,
                region=finding.region,
                plan=finding.plan,
                os_id=finding.os_id or input.default_os_id,
            )
            try:
                adopted = ServerInput(name=name, spec=spec, policy=input.policy)
                await workflow.start_child_workflow(
                    ServerWorkflow.run,
                    adopted,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    **server_start_options(adopted, f"adopted orphan {finding.instance_id}"),
                )
            except WorkflowAlreadyStartedError:
                return f"orphan {finding.instance_id}: {finding.workflow_id} already running again"
            return f"adopted orphan {finding.instance_id} as {finding.workflow_id}"
        if finding.kind in ("orphan", "duplicate"):
            await workflow.execute_activity_method(
                ProviderActivities.delete_instance,
                InstanceRef(workflow_id=finding.workflow_id, instance_id=finding.instance_id),
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=45),
                heartbeat_timeout=PROVIDER_HEARTBEAT_TIMEOUT,
                retry_policy=DELETE_RETRY,
                summary=f"delete {finding.kind} {finding.instance_id}",
            )
            return f"deleted {finding.kind} {finding.instance_id} ({finding.detail})"
        await workflow.get_external_workflow_handle(finding.workflow_id).signal(
            "instance_gone", finding.instance_id
        )
        return f"told {finding.workflow_id} that {finding.instance_id} is gone at provider"
