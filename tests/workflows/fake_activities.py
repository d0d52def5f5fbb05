"""In-memory stand-ins for the server activities, for time-skipping workflow tests.

They keep what a real provider and store would: instances, deletions and leases,
with times taken from the test environment's (skipped) clock.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.payloads import (
    CheckReadyInput,
    CreateInstanceInput,
    FindInstanceInput,
    InstanceInfo,
    InstanceRef,
    KeepWarmInput,
    PlanQuote,
    RecordServerInput,
    ReserveDeleteInput,
    SlotInput,
    SpecInput,
)
from core.lifecycle import ServerState
from core.models import DeleteSlot
from leases.models import Lease


@dataclass
class FakeInstance:
    id: str
    workflow_id: str
    created: datetime
    deleted: datetime | None = None
    checks: int = 0


@dataclass
class FakeCloud:
    env: WorkflowEnvironment
    boot_checks: int = 2  # readiness checks that answer "not yet"
    never_ready: bool = False
    create_error: ApplicationError | None = None
    quote_error: ApplicationError | None = None
    instances: dict[str, FakeInstance] = field(default_factory=dict)
    records: list[RecordServerInput] = field(default_factory=list)
    leases_held: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    # The delete plan: how much earlier than its deadline each reservation is placed.
    plan_early: timedelta = timedelta(0)
    delete_slots: dict[str, DeleteSlot] = field(default_factory=dict)
    plan_calls: list[str] = field(default_factory=list)
    # The termination slot: "hang" never answers (MongoDB down), "taken" has none free.
    termination_slot: str = "free"
    # MongoDB down for the read model once the server is provisioned: such records
    # fail (and are retried) until `records_back` is set (by the delete, at the latest).
    block_records: bool = False
    records_back: asyncio.Event = field(default_factory=asyncio.Event)
    # A pool member's keep-warm check: "keep" it, "release" it, or "hang" (MongoDB down).
    warm: str = "release"

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    def _info(self, inst: FakeInstance, ready: bool) -> InstanceInfo:
        return InstanceInfo(
            instance_id=inst.id,
            status="active" if ready else "pending",
            ready=ready,
            main_ip="192.0.2.10" if ready else None,
            created=inst.created,
        )

    def live(self) -> list[FakeInstance]:
        return [i for i in self.instances.values() if i.deleted is None]

    @activity.defn(name="quote_plan")
    async def quote_plan(self, request: SpecInput) -> PlanQuote:
        self.calls.append("quote_plan")
        if self.quote_error:
            raise self.quote_error
        return PlanQuote(plan=request.spec.plan, monthly_cost=6.72)

    @activity.defn(name="find_instance")
    async def find_instance(self, request: FindInstanceInput) -> InstanceInfo | None:
        self.calls.append("find_instance")
        for inst in self.live():
            if inst.workflow_id == request.workflow_id:
                return self._info(inst, False)
        return None

    @activity.defn(name="create_instance")
    async def create_instance(self, request: CreateInstanceInput) -> InstanceInfo:
        self.calls.append("create_instance")
        if self.create_error:
            raise self.create_error
        inst = FakeInstance(str(uuid.uuid4()), request.workflow_id, await self.now())
        self.instances[inst.id] = inst
        return self._info(inst, False)

    @activity.defn(name="check_ready")
    async def check_ready(self, request: CheckReadyInput) -> InstanceInfo:
        self.calls.append("check_ready")
        inst = self.instances[request.instance_id]
        inst.checks += 1
        if self.never_ready or inst.checks <= self.boot_checks:
            raise ApplicationError("not ready yet", type="InstanceNotReady")
        return self._info(inst, True)

    @activity.defn(name="delete_instance")
    async def delete_instance(self, request: InstanceRef) -> bool:
        self.calls.append("delete_instance")
        inst = self.instances.get(request.instance_id)
        if inst is None or inst.deleted is not None:
            return False
        inst.deleted = await self.now()
        self.records_back.set()  # MongoDB (if it was down) answers again from here
        return True

    @activity.defn(name="confirm_deleted")
    async def confirm_deleted(self, request: InstanceRef) -> None:
        self.calls.append("confirm_deleted")
        inst = self.instances.get(request.instance_id)
        if inst is not None and inst.deleted is None:
            raise ApplicationError("still there", type="InstanceStillExists")

    @activity.defn(name="take_quota_slot")
    async def take_quota_slot(self, request: SlotInput) -> None:
        self.calls.append("take_quota_slot")
        self.leases_held.add(f"quota:{request.owner}")

    @activity.defn(name="take_termination_slot")
    async def take_termination_slot(self, request: SlotInput) -> Lease:
        self.calls.append("take_termination_slot")
        if self.termination_slot == "hang":
            await asyncio.Event().wait()
        if self.termination_slot == "taken":
            raise ApplicationError(
                "all 1 slots of 'terminations' are taken", type="LeaseUnavailable"
            )
        self.leases_held.add(f"termination:{request.owner}")
        expires = await self.now() + timedelta(seconds=request.ttl_seconds)
        return Lease(resource="terminations", owner=request.owner, token=1, expires_at=expires)

    @activity.defn(name="release_termination_slot")
    async def release_termination_slot(self, slot: Lease) -> bool:
        self.calls.append("release_termination_slot")
        self.leases_held.discard(f"termination:{slot.owner}")
        return True

    @activity.defn(name="release_server_leases")
    async def release_server_leases(self, request: SlotInput) -> None:
        self.calls.append("release_server_leases")
        self.leases_held = {h for h in self.leases_held if not h.endswith(":" + request.owner)}

    @activity.defn(name="reserve_delete_slot")
    async def reserve_delete_slot(self, request: ReserveDeleteInput) -> DeleteSlot:
        self.plan_calls.append("reserve_delete_slot")
        at = max(request.deadline - self.plan_early, request.not_before)
        slot = DeleteSlot(at=at, deadline=request.deadline)
        self.delete_slots[request.owner] = slot
        return slot

    @activity.defn(name="release_delete_slot")
    async def release_delete_slot(self, owner: str) -> int:
        self.plan_calls.append("release_delete_slot")
        return int(self.delete_slots.pop(owner, None) is not None)

    @activity.defn(name="keep_warm")
    async def keep_warm(self, request: KeepWarmInput) -> bool:
        self.calls.append("keep_warm")
        if self.warm == "hang":
            await asyncio.Event().wait()
        return self.warm == "keep"

    @activity.defn(name="record_server")
    async def record_server(self, request: RecordServerInput) -> None:
        if self.block_records and request.status.state != ServerState.PROVISIONING:
            if not self.records_back.is_set():
                # As the real activity answers while MongoDB refuses connections.
                raise ApplicationError("MongoDB is unavailable", type="MongoTransient")
        self.records.append(request)

    def catalog_activities(self) -> list:
        return [self.quote_plan]

    def provider_activities(self) -> list:
        return [
            self.find_instance,
            self.create_instance,
            self.check_ready,
            self.delete_instance,
            self.confirm_deleted,
        ]

    def store_activities(self) -> list:
        return [
            self.take_quota_slot,
            self.take_termination_slot,
            self.release_termination_slot,
            self.release_server_leases,
            self.record_server,
            self.reserve_delete_slot,
            self.release_delete_slot,
            self.keep_warm,
        ]
