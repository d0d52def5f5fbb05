"""What the integration tests share: the fleet they drive (a client, its settings, the
emulator and the database), the fast emulator's billing constants, and the waits and
calls several modules make."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle

from activities.reconcile import ReconcileReport
from core.lifecycle import ServerState
from core.models import ServerInput, ServerPolicy, ServerSpec, ServerStatus
from core.settings import Settings
from tests.support.emulator import TEST_API_KEY, RunningEmulator, create_vultr_instance
from tests.support.waits import wait_until
from workflows.reconcile import ReconcileInput, ReconcileWorkflow
from workflows.server import ServerWorkflow

PERIOD = 20  # seconds per billed "hour" on the fast emulator
MARGIN = 5
BOOT = 2


# Ubuntu 24.04 in each face's catalog.
HETZNER_UBUNTU = 161547269  # ubuntu-24.04, x86
DIGITALOCEAN_UBUNTU = 155112933  # ubuntu-24-04-x64


@dataclass
class Fleet:
    client: Client
    settings: Settings
    emulator: RunningEmulator
    db: Any

    def spec(self, **overrides: Any) -> ServerSpec:
        return ServerSpec(**{"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284, **overrides})

    def policy(self, **overrides: Any) -> ServerPolicy:
        values = {
            "billing_period_seconds": PERIOD,
            "terminate_before_seconds": MARGIN,
            "ready_poll_seconds": 0.5,
            "readiness_timeout_seconds": 60,
            **overrides,
        }
        return ServerPolicy(**values)

    async def start(self, name: str, **policy: Any) -> WorkflowHandle:
        inp = ServerInput(name=name, spec=self.spec(), policy=self.policy(**policy))
        return await self.client.start_workflow(
            ServerWorkflow.run,
            inp,
            id=inp.workflow_id,
            task_queue=self.settings.temporal_task_queue,
        )

    def ledger(self) -> list[dict[str, Any]]:
        return self.emulator.admin("GET", "/ledger").json()["ledger"]

    def live_instances(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.emulator.api_url}/instances",
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
            params={"per_page": 500},
        )
        return response.json()["instances"]


def create_directly(fleet: Fleet, label: str, tags: list[str]) -> str:
    """An instance made at the emulator outside any workflow."""
    return create_vultr_instance(fleet.emulator, label, tags)


async def wait_for_state(
    handle: WorkflowHandle, state: ServerState, within: float = 30
) -> ServerStatus:
    """The server's status once its `status` query shows `state`."""

    async def reached() -> ServerStatus | None:
        status = await handle.query(ServerWorkflow.status)
        return status if status.state == state else None

    return await wait_until(reached, within=within, interval=0.25, what=f"{handle.id} {state}")


async def wait_until_ready(handle: WorkflowHandle, within: float = 30) -> ServerStatus:
    return await wait_for_state(handle, ServerState.READY, within)


async def reconcile(fleet: Fleet, action: str = "adopt") -> ReconcileReport:
    """One reconciliation pass on the fleet's queue, no grace period."""
    return await fleet.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(grace_seconds=0, orphan_action=action, policy=fleet.policy()),
        id=f"reconcile-{uuid.uuid4().hex[:8]}",
        task_queue=fleet.settings.temporal_task_queue,
    )
