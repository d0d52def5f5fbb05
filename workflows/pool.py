"""WarmPoolWorkflow: keeps `min_idle` servers of one region and plan available,
optionally only during set hours. It only adds what is missing; idle members leave
at their own billing deadlines unless the pool still needs them (keep_warm)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.pools import PoolActivities, PoolCensus, PoolCensusInput
    from core.models import PolicyOverrides, ServerInput, ServerPolicy, ServerSpec
    from workflows.policies import MONGO_RETRY
    from workflows.server import ServerWorkflow
    from workflows.server_start import server_start_options

__all__ = ["PoolInput", "WarmPoolWorkflow", "in_active_hours", "next_active_start"]

# A member not yet in the read model after this long is no longer waited for.
PENDING_GRACE = timedelta(minutes=5)


def in_active_hours(hours: tuple[int, int] | None, hour: int) -> bool:
    """Whether UTC `hour` lies in [start, end); a window may wrap past midnight."""
    if hours is None:
        return True
    start, end = hours
    return start <= hour < end if start < end else (hour >= start or hour < end)


def next_active_start(hours: tuple[int, int] | None, now: datetime) -> datetime | None:
    """When the window next opens after `now` (UTC), or None while it is open."""
    if hours is None or in_active_hours(hours, now.hour):
        return None
    opens = now.replace(hour=hours[0], minute=0, second=0, microsecond=0)
    return opens if opens > now else opens + timedelta(days=1)


class PoolInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: str = Field(pattern=r"^[a-z0-9-]{1,20}$")
    spec: ServerSpec
    # Members' policy: None lets the worker resolve it (with `overrides`) per member.
    policy: ServerPolicy | None = None
    overrides: PolicyOverrides = Field(default_factory=PolicyOverrides)
    min_idle: int = Field(ge=0)
    check_every_seconds: float = Field(default=30, gt=0)
    # UTC hours [start, end) in which the pool is kept warm; None means always.
    active_hours: tuple[int, int] | None = None
    # Members started but not yet in the read model, carried across continue-as-new so
    # the next run does not start them again.
    pending: dict[str, datetime] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _hours(self) -> PoolInput:
        if self.active_hours is not None:
            start, end = self.active_hours
            if not (0 <= start < 24 and 0 < end <= 24 and start != end):
                raise ValueError(
                    "active_hours must be (start, end) UTC hours with 0 <= start, end <= 24"
                )
        return self


@workflow.defn(name="WarmPoolWorkflow")
class WarmPoolWorkflow:
    @workflow.init
    def __init__(self, input: PoolInput) -> None:
        self._input = input
        # Members started but not yet seen in the read model, so they are not doubled.
        self._pending: dict[str, datetime] = dict(input.pending)

    @workflow.signal
    def set_min_idle(self, min_idle: int) -> None:
        self._input = self._input.model_copy(update={"min_idle": max(0, min_idle)})

    @workflow.query
    def target(self) -> int:
        return self._target()

    def _target(self) -> int:
        inside = in_active_hours(self._input.active_hours, workflow.now().hour)
        return self._input.min_idle if inside else 0

    @workflow.run
    async def run(self, input: PoolInput) -> None:
        while True:
            target = self._target()
            census: PoolCensus = await workflow.execute_activity_method(
                PoolActivities.pool_census,
                PoolCensusInput(pool=self._input.pool, min_idle_now=target),
                start_to_close_timeout=timedelta(seconds=15),
                retry_policy=MONGO_RETRY,
                summary=f"count members of pool {self._input.pool}",
            )
            for seen in census.members:
                self._pending.pop(seen, None)
            stale = workflow.now() - PENDING_GRACE
            self._pending = {k: at for k, at in self._pending.items() if at > stale}
            missing = target - census.available - census.provisioning - len(self._pending)
            workflow.set_current_details(
                f"target {target} available; {census.available} available, "
                f"{census.provisioning} provisioning, {census.busy} busy"
            )
            for _ in range(max(0, missing)):
                await self._add_member()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._input.model_copy(update={"pending": self._pending}))
            await asyncio.sleep(self._input.check_every_seconds)

    async def _add_member(self) -> None:
        name = f"{self._input.pool}-{str(workflow.uuid4())[:8]}"
        member = ServerInput(
            name=name,
            spec=self._input.spec,
            policy=self._input.policy,
            overrides=self._input.overrides,
            pool=self._input.pool,
        )
        await workflow.start_child_workflow(
            ServerWorkflow.run,
            member,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            **server_start_options(member, f"warm pool {self._input.pool} member: {name}"),
        )
        self._pending[member.workflow_id] = workflow.now()
