"""Reconciliation of a Hetzner project beside the Vultr account: one fleet run covers
every provider the workers serve; an orphan carrying our labels is adopted or deleted per
ORPHAN_ACTION, a server we did not make is left alone."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from core.lifecycle import ServerState
from core.naming import MANAGED_TAG, instance_tag
from providers.hetzner.labels import labels_from_tags
from tests.integration.support import HETZNER_UBUNTU as UBUNTU
from tests.integration.support import Fleet, wait_until_ready
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from workflows.reconcile import ReconcileFleetWorkflow, ReconcileInput
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]


@pytest.fixture
async def both(fleet_factory: Any, fast_hetzner: RunningEmulator) -> Fleet:
    fast_hetzner.reset()
    return await fleet_factory(hcloud_token=TEST_API_KEY, hcloud_api_url=fast_hetzner.api_url)


def hetzner_api(emulator: RunningEmulator, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(
        method,
        f"{emulator.api_url}{path}",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        **kw,
    )
    response.raise_for_status()
    return response.json()


def create_directly(emulator: RunningEmulator, name: str, tags: list[str]) -> str:
    body = {
        "name": name,
        "server_type": "cx22",
        "location": "fsn1",
        "image": str(UBUNTU),
        "labels": labels_from_tags(tags),
    }
    return str(hetzner_api(emulator, "POST", "/servers", json=body)["server"]["id"])


def live_servers(emulator: RunningEmulator) -> dict[str, str]:
    return {str(s["id"]): s["name"] for s in hetzner_api(emulator, "GET", "/servers")["servers"]}


async def servers_left(emulator: RunningEmulator, expected: set[str]) -> set[str]:
    """The listing once it matches `expected`, or after ~5 s (a delete takes a second)."""
    for _ in range(20):
        left = set(live_servers(emulator))
        if left == expected:
            break
        await asyncio.sleep(0.25)
    return left


async def reconcile(fleet: Fleet, action: str):  # type: ignore[no-untyped-def]
    return await fleet.client.execute_workflow(
        ReconcileFleetWorkflow.run,
        ReconcileInput(grace_seconds=0, orphan_action=action, policy=fleet.policy()),
        id=f"reconcile-{uuid.uuid4().hex[:8]}",
        task_queue=fleet.settings.temporal_task_queue,
    )


def seed(emulator: RunningEmulator, orphan: str) -> tuple[set[str], str]:
    """Two servers that are not ours (one carries our managed label, no owner) and an
    orphan carrying both our marks."""
    unmanaged = {
        create_directly(emulator, "my-database", ["team:data"]),
        create_directly(emulator, "server-managed-only", [MANAGED_TAG]),
    }
    orphan_id = create_directly(emulator, orphan, [MANAGED_TAG, instance_tag(orphan)])
    return unmanaged, orphan_id


async def test_a_hetzner_orphan_is_deleted_and_an_unmanaged_server_left_alone(
    both: Fleet, fast_hetzner: RunningEmulator
):
    unmanaged, orphan = seed(fast_hetzner, "server-hz-orphan-d")
    fleet_report = await reconcile(both, "delete")
    assert fleet_report.failures == {}
    reports = {r.provider: r for r in fleet_report.reports}
    assert set(reports) == {"vultr", "hetzner"}
    hz = reports["hetzner"]
    assert [(f.kind, f.instance_id) for f in hz.findings] == [("orphan", orphan)]
    assert hz.actions[0].startswith(f"deleted orphan {orphan}")
    # Listed by our managed label: the orphan, and the one without an owner (not ours).
    assert (hz.instances_seen, hz.not_ours) == (1, 1)
    assert reports["vultr"].findings == []
    assert await servers_left(fast_hetzner, unmanaged) == unmanaged
    docs = await both.db["reconciliations"].find({"provider": "hetzner"}).to_list()
    assert len(docs) == 1 and docs[0]["actions"] == hz.actions


async def test_a_hetzner_orphan_is_adopted_by_a_server_workflow(
    both: Fleet, fast_hetzner: RunningEmulator
):
    unmanaged, orphan = seed(fast_hetzner, "server-hz-orphan-a")
    fleet_report = await reconcile(both, "adopt")
    (hz,) = [r for r in fleet_report.reports if r.provider == "hetzner"]
    assert hz.actions == [f"adopted orphan {orphan} as server-hz-orphan-a"]
    handle = both.client.get_workflow_handle_for(ServerWorkflow.run, "server-hz-orphan-a")
    await wait_until_ready(handle)
    await handle.signal(ServerWorkflow.request_termination, {"reason": "t", "immediately": True})
    result = await handle.result()
    assert result.state == ServerState.TERMINATED and result.provider == "hetzner"
    assert result.instance_id == orphan, "the orphan is adopted, not replaced"
    assert await servers_left(fast_hetzner, unmanaged) == unmanaged
