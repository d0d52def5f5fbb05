"""The reconciliation Schedule, created or updated from settings by each worker."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core.settings import Settings
from workflows.reconcile import RECONCILE_SCHEDULE_ID, ReconcileFleetWorkflow, ReconcileInput

__all__ = ["ensure_reconcile_schedule", "reconcile_input"]


def reconcile_input(settings: Settings) -> ReconcileInput:
    return ReconcileInput(
        grace_seconds=settings.orphan_grace_seconds,
        orphan_action=settings.orphan_action,
        default_os_id=settings.default_os_id,
    )


def _schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            # One run over every provider the workers serve (a child each).
            ReconcileFleetWorkflow.run,
            reconcile_input(settings),
            id=RECONCILE_SCHEDULE_ID,
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.reconcile_interval_seconds))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reconcile_schedule(client: Client, settings: Settings) -> None:
    """Idempotent: every worker may call it; the last settings win. 0 s deletes it."""
    handle = client.get_schedule_handle(RECONCILE_SCHEDULE_ID)
    if settings.reconcile_interval_seconds == 0:
        try:
            await handle.delete()
        except Exception:  # noqa: BLE001 - absent already
            pass
        return
    schedule = _schedule(settings)
    try:
        await client.create_schedule(RECONCILE_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(update)
