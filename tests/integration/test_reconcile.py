"""Reconciliation against the emulator: orphans, duplicates and vanished instances."""

from __future__ import annotations

import httpx
import pytest

from core.lifecycle import ServerState
from core.naming import MANAGED_TAG, instance_tag
from tests.integration.support import Fleet, create_directly, reconcile, wait_until_ready
from tests.support.emulator import TEST_API_KEY
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]


def create_ours(fleet: Fleet, workflow_id: str) -> str:
    """An instance made outside any workflow, carrying our label and tags."""
    return create_directly(fleet, workflow_id, [MANAGED_TAG, instance_tag(workflow_id)])


def delete_directly(fleet: Fleet, instance_id: str) -> None:
    httpx.delete(
        f"{fleet.emulator.api_url}/instances/{instance_id}",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
    ).raise_for_status()


async def test_an_orphan_is_adopted_and_terminated_at_its_own_deadline(fleet: Fleet):
    instance_id = create_ours(fleet, "server-orphan-a")
    report = await reconcile(fleet, "adopt")
    assert [f.kind for f in report.findings] == ["orphan"]
    assert "adopted" in report.actions[0]
    result = await fleet.client.get_workflow_handle_for(
        ServerWorkflow.run, "server-orphan-a"
    ).result()
    assert result.state == ServerState.TERMINATED
    assert result.instance_id == instance_id, "the orphan is adopted, not replaced"
    (row,) = fleet.ledger()
    assert row["units"] == 1 and row["deleted_at"] is not None
    assert fleet.live_instances() == []


async def test_an_orphan_is_deleted_when_so_configured(fleet: Fleet):
    create_ours(fleet, "server-orphan-b")
    report = await reconcile(fleet, "delete")
    assert report.actions and report.actions[0].startswith("deleted orphan")
    assert fleet.live_instances() == []
    docs = await fleet.db["reconciliations"].find().to_list()
    assert len(docs) == 1 and docs[0]["actions"] == report.actions


async def test_a_server_whose_instance_vanished_ends_gone_at_provider(fleet: Fleet):
    handle = await fleet.start("vanishing", billing_period_seconds=600)
    await wait_until_ready(handle)
    status = await handle.query(ServerWorkflow.status)
    delete_directly(fleet, status.instance_id)
    report = await reconcile(fleet)
    assert [f.kind for f in report.findings] == ["gone"]
    result = await handle.result()
    assert result.state == ServerState.TERMINATED
    assert result.timeline[-1].reason == "gone at provider"


async def test_a_duplicate_instance_is_deleted_and_the_owned_one_kept(fleet: Fleet):
    handle = await fleet.start("doubled", billing_period_seconds=600)
    await wait_until_ready(handle)
    owned = (await handle.query(ServerWorkflow.status)).instance_id
    extra = create_ours(fleet, "server-doubled")
    report = await reconcile(fleet)
    assert [(f.kind, f.instance_id) for f in report.findings] == [("duplicate", extra)]
    assert [i["id"] for i in fleet.live_instances()] == [owned]
    await handle.signal(ServerWorkflow.request_termination, {"reason": "t", "immediately": True})
    await handle.result()
