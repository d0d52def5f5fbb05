"""Warm pools: start one, change its size, stop it.

A pool is a `WarmPoolWorkflow` (`pool-<name>`) plus its document in MongoDB, which its
members read at their deadlines to know whether they are still wanted.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.pools import POOLS_COLLECTION
from client.errors import PoolExists, PoolNotRunning
from client.fleet import ServerFleet, checked_request
from core.models import ServerSpec
from workflows.pool import PoolInput, WarmPoolWorkflow

__all__ = ["pool_input", "set_pool_size", "start_pool", "stop_pool"]


def pool_workflow_id(pool: str) -> str:
    return f"pool-{pool}"


def pool_input(
    pool: str, spec: ServerSpec, min_idle: int, active_hours: tuple[int, int] | None = None
) -> PoolInput:
    """The pool's workflow input; raises InvalidRequest naming each bad field."""
    return checked_request(
        f"pool {pool}",
        PoolInput,
        pool=pool,
        spec=spec,
        min_idle=min_idle,
        active_hours=active_hours,
    )


async def start_pool(fleet: ServerFleet, inp: PoolInput) -> None:
    """Start the pool's workflow; raises PoolExists while one of that name runs."""
    try:
        await fleet.client.start_workflow(
            WarmPoolWorkflow.run,
            inp,
            id=pool_workflow_id(inp.pool),
            task_queue=fleet.settings.temporal_task_queue,
            static_summary=f"warm pool {inp.pool}: {inp.min_idle} x {inp.spec.plan} "
            f"in {inp.spec.provider} {inp.spec.region}",
        )
    except WorkflowAlreadyStartedError:
        raise PoolExists(inp.pool) from None


async def set_pool_size(fleet: ServerFleet, pool: str, min_idle: int) -> None:
    """Change how many servers a running pool keeps; raises PoolNotRunning."""
    try:
        await _handle(fleet, pool).signal(WarmPoolWorkflow.set_min_idle, min_idle)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise PoolNotRunning(pool) from None
        raise


async def stop_pool(fleet: ServerFleet, pool: str) -> None:
    """End the pool's workflow, after telling its members that none is wanted any more
    (they consult the pool's document at their deadlines); raises PoolNotRunning."""
    handle = _handle(fleet, pool)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise PoolNotRunning(pool) from None
        raise
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise PoolNotRunning(pool)
    if fleet.db is not None:
        async with fleet.mongo(f"stop pool {pool}") as db:
            await db[POOLS_COLLECTION].update_one({"_id": pool}, {"$set": {"min_idle_now": 0}})
    await handle.terminate("pool stopped by operator")


def _handle(fleet: ServerFleet, pool: str) -> Any:
    return fleet.client.get_workflow_handle_for(WarmPoolWorkflow.run, pool_workflow_id(pool))
