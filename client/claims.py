"""Hand jobs servers: reuse one already paid for, or provision one within the quota.

A claim is a MongoDB lease on the server (`claim:<workflow id>`, one holder) plus the
workflow's `claim` update. The lease makes the choice atomic across claimers; the job
renews it with `heartbeat`, and when a job dies its lease lapses and the workflow
frees the server at the lease's expiry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from pymongo.asynchronous.database import AsyncDatabase
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.fleet_store import SERVERS_COLLECTION, provider_filter
from client.fleet import checked_request, server_start_operation
from core.lifecycle import AVAILABLE_STATES, ServerState
from core.models import (
    ClaimRequest,
    ClaimResult,
    ServerInput,
    ServerSpec,
    TaskSignal,
    TerminationRequest,
    workflow_id_for,
)
from core.naming import name_from_workflow_id
from core.settings import Settings
from leases import Lease, LeaseStore
from providers import DEFAULT_PROVIDER
from providers.base import BillingModel
from workflows.server import ServerWorkflow

__all__ = ["Claim", "ClaimBroker", "ClaimError"]

# A server this close to its deadline is not offered: the job would start a new hour.
MIN_PAID_LEFT = timedelta(seconds=30)


def min_paid_left(period_seconds: int) -> timedelta:
    """MIN_PAID_LEFT, or a tenth of a (demo-short) billing period if that is less."""
    return min(MIN_PAID_LEFT, timedelta(seconds=period_seconds / 10))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _recently_idle_first(doc: dict[str, Any]) -> tuple[int, float]:
    """Sort key: per-second servers by idle moment, latest first; the others keep their
    order (most paid time left) after them. Per second there is no paid time to use up,
    only the window: reusing the freshest idle server lets the stalest one go."""
    model = doc.get("billing_model")
    idle = doc.get("idle_since")
    if model and BillingModel.model_validate(model).per_second and idle is not None:
        return (0, -_aware(idle).timestamp())
    return (1, 0.0)


class ClaimError(RuntimeError):
    """No server could be claimed, or a claim was lost."""


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)

    server: str
    workflow_id: str
    task_id: str
    lease: Lease
    reused: bool


READ_MODEL_LAG_SECONDS = 1.0


def claim_resource(workflow_id: str) -> str:
    return f"claim:{workflow_id}"


class ClaimBroker:
    def __init__(
        self,
        client: Client,
        settings: Settings,
        db: AsyncDatabase[Any],
        store: LeaseStore,
        *,
        check_spec: Callable[[ServerSpec], Awaitable[None]] | None = None,
    ) -> None:
        """`check_spec` (e.g. `ServerFleet.check_spec`) refuses a bad region or plan
        before a server is provisioned for a claim."""
        self._client = client
        self._settings = settings
        self._db = db
        self._store = store
        self._check_spec = check_spec

    async def candidates(
        self, region: str, plan: str, provider: str = DEFAULT_PROVIDER
    ) -> list[dict[str, Any]]:
        """Available servers of that kind at that provider, most paid time left first;
        per-second ones most recently idle first, so those idle longest run out their
        windows and go."""
        now = datetime.now(UTC)
        cursor = (
            self._db[SERVERS_COLLECTION]
            .find(
                {
                    "state": {"$in": [s.value for s in AVAILABLE_STATES]},
                    **provider_filter(provider),
                    "region": region,
                    "plan": plan,
                    # None: kept while idle (--keep-idle), no end planned.
                    "$or": [{"terminate_at": {"$gt": now}}, {"terminate_at": None}],
                },
                {
                    "name": 1,
                    "workflow_id": 1,
                    "terminate_at": 1,
                    "billing_period_seconds": 1,
                    "billing_model": 1,
                    "idle_since": 1,
                },
            )
            .sort("terminate_at", -1)
        )
        found = sorted(await cursor.to_list(), key=_recently_idle_first)
        # Enough paid time left by the server's own period (older records: ours).
        return [
            doc
            for doc in found
            if doc.get("terminate_at") is None
            or _aware(doc["terminate_at"])
            > now
            + min_paid_left(
                doc.get("billing_period_seconds") or self._settings.billing_period_seconds
            )
        ]

    async def claim(
        self,
        task_id: str,
        *,
        region: str | None = None,
        plan: str | None = None,
        ttl: timedelta = timedelta(minutes=5),
        wait: timedelta = timedelta(minutes=15),
        provider: str = DEFAULT_PROVIDER,
        image: str | None = None,
    ) -> Claim:
        """A server of that provider, region and plan for the task: an available one, else
        a new one (of `image`; the DEFAULT_* settings are Vultr's)."""
        checked_request(f"a claim by task {task_id[:40]!r}", ClaimRequest, task_id=task_id)
        region = region or self._settings.default_region
        plan = plan or self._settings.default_plan
        spec = checked_request(
            "the claimed server's spec",
            ServerSpec,
            provider=provider,
            region=region,
            plan=plan,
            image=image,
            os_id=None if image is not None else self._settings.default_os_id,
        )
        # Two looks before paying for a new server: the read model trails the workflows
        # by a moment (a run handing over to its successor records its state once the
        # new run starts), so a server freed just now may not show on the first.
        for look in range(2):
            if look:
                await asyncio.sleep(READ_MODEL_LAG_SECONDS)
            for doc in await self.candidates(region, plan, provider):
                claim = await self._try(doc["workflow_id"], task_id, ttl, reused=True)
                if claim is not None:
                    return claim
        return await self._provision_and_claim(task_id, spec, ttl, wait)

    async def _try(
        self, workflow_id: str, task_id: str, ttl: timedelta, *, reused: bool
    ) -> Claim | None:
        lease = await self._store.acquire(claim_resource(workflow_id), task_id, ttl)
        if lease is None:
            return None  # another job holds it
        result = await self._claim_update(workflow_id, ClaimRequest(task_id=task_id, lease=lease))
        if result is None or not result.accepted:
            await self._store.release(lease)
            return None
        return self._claim(workflow_id, task_id, lease, reused=reused)

    async def _claim_update(self, workflow_id: str, request: ClaimRequest) -> ClaimResult | None:
        """The running server's answer to the claim; None if it cannot be asked."""
        handle = self._client.get_workflow_handle_for(ServerWorkflow.run, workflow_id)
        for attempt in range(3):
            try:
                return await handle.execute_update(ServerWorkflow.claim, request)
            except WorkflowUpdateFailedError:
                return None
            except RPCError:
                # The run may be handing over to its continued-as-new successor; the
                # claim update is idempotent per task, so asking again is safe.
                await asyncio.sleep(0.5 * (attempt + 1))
        return None

    @staticmethod
    def _claim(workflow_id: str, task_id: str, lease: Lease, *, reused: bool) -> Claim:
        return Claim(
            server=name_from_workflow_id(workflow_id),
            workflow_id=workflow_id,
            task_id=task_id,
            lease=lease,
            reused=reused,
        )

    async def _provision_and_claim(
        self, task_id: str, spec: ServerSpec, ttl: timedelta, wait: timedelta
    ) -> Claim:
        name = f"claim-{uuid.uuid4().hex[:10]}"
        # No policy: the worker resolves it from its own settings.
        inp = ServerInput(name=name, spec=spec)
        if self._check_spec is not None:
            await self._check_spec(inp.spec)
        lease = await self._store.acquire(claim_resource(inp.workflow_id), task_id, ttl)
        if lease is None:
            raise ClaimError(f"the claim on the new server {name} is held by another task")
        request = ClaimRequest(task_id=task_id, lease=lease)
        start = server_start_operation(
            inp,
            self._settings.temporal_task_queue,
            summary=f"{spec.provider} {spec.region} {spec.plan}: provisioned for claim {task_id}",
        )
        # Started together with its claim: no server boots for nobody if this process
        # stops between the two.
        result: ClaimResult | None
        try:
            result = await self._client.execute_update_with_start_workflow(
                ServerWorkflow.claim, request, start_workflow_operation=start
            )
        except WorkflowUpdateFailedError:
            result = None
        except RPCError:
            # The outcome is unknown; the server is there only if it started with the
            # claim, which is idempotent per task, so asking it again tells.
            result = await self._claim_update(inp.workflow_id, request)
        if result is None or not result.accepted:
            await self._store.release(lease)
            reason = f": {result.reason}" if result is not None and result.reason else ""
            raise ClaimError(f"could not claim the new server {name}{reason}")
        claim = self._claim(inp.workflow_id, task_id, lease, reused=False)
        return await self._wait_until_serving(claim, ttl, wait)

    async def _wait_until_serving(self, claim: Claim, ttl: timedelta, wait: timedelta) -> Claim:
        """Renew the claim while the new server boots; return once it is EXECUTING."""
        handle = self._client.get_workflow_handle_for(ServerWorkflow.run, claim.workflow_id)
        deadline = asyncio.get_running_loop().time() + wait.total_seconds()
        while asyncio.get_running_loop().time() < deadline:
            status = await handle.query(ServerWorkflow.status)
            if status.state == ServerState.EXECUTING:
                return claim
            if status.state in (ServerState.ERROR, ServerState.TERMINATED):
                await self._store.release(claim.lease)
                raise ClaimError(f"server {claim.server} ended {status.state}: {status.error}")
            claim = await self.heartbeat(claim, ttl)
            await asyncio.sleep(1)
        cancelled = await self._abandon(claim, handle)
        raise ClaimError(
            f"server {claim.server} not ready within {wait}"
            + ("; it was still waiting for a quota slot and is cancelled" if cancelled else "")
        )

    async def _abandon(self, claim: Claim, handle: Any) -> bool:
        """Give up a server started for this claim. One still waiting for a quota slot
        (no instance, nothing billed) is cancelled rather than left to boot for nobody;
        one already booting is paid for, and stays for the next claim. True if cancelled."""
        await self._store.release(claim.lease)
        status = await handle.query(ServerWorkflow.status)
        if status.state != ServerState.PROVISIONING or status.instance_id is not None:
            return False
        await handle.signal(
            ServerWorkflow.request_termination,
            TerminationRequest(
                reason=f"claim {claim.task_id} gave up waiting for it", immediately=True
            ),
        )
        return True

    async def held(self, server: str, task_id: str) -> Claim | None:
        """The live claim `task_id` holds on `server`, or None (lapsed, released, never)."""
        workflow_id = workflow_id_for(server)
        for lease in await self._store.holders(claim_resource(workflow_id)):
            if lease.owner == task_id:
                return self._claim(workflow_id, task_id, lease, reused=True)
        return None

    async def heartbeat(self, claim: Claim, ttl: timedelta = timedelta(minutes=5)) -> Claim:
        lease = await self._store.renew(claim.lease, ttl)
        if lease is None:
            raise ClaimError(
                f"claim of {claim.task_id} on {claim.server} lapsed; the server may have been "
                "handed to another job"
            )
        return claim.model_copy(update={"lease": lease})

    async def release(self, claim: Claim) -> None:
        handle = self._client.get_workflow_handle_for(ServerWorkflow.run, claim.workflow_id)
        try:
            await handle.execute_update(
                ServerWorkflow.finish_task, TaskSignal(task_id=claim.task_id)
            )
        except (WorkflowUpdateFailedError, RPCError):
            pass  # already freed (lapsed claim) or the server ended
        await self._store.release(claim.lease)
