"""Only instances that carry both of our tags are ever touched, whether the provider
honours list filters or ignores them (as it may a deprecated one)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.lifecycle import ServerState
from core.naming import MANAGED_TAG, instance_tag
from tests.integration.support import Fleet, create_directly, reconcile, wait_until_ready
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

# Servers a user runs beside this tool, some looking much like ours.
NOT_OURS: dict[str, list[str]] = {
    "my-postgres": [],
    "server-web-1": [],
    "server-build": ["team:ci"],
    "server-managed-only": [MANAGED_TAG],
    "server-workflow-only": [instance_tag("server-workflow-only")],
    "server-odd-id": [MANAGED_TAG, instance_tag("not-a-server-id")],
    "server-two-owners": [MANAGED_TAG, instance_tag("server-a"), instance_tag("server-b")],
}
# With filters honoured, `tag=<managed tag>` lists only those carrying it.
LISTED_WITH_FILTER = sum(MANAGED_TAG in tags for tags in NOT_OURS.values())


def seed_not_ours(fleet: Fleet) -> dict[str, dict[str, Any]]:
    for label, tags in NOT_OURS.items():
        create_directly(fleet, label, tags)
    return {i["id"]: i for i in fleet.live_instances()}


def ignore_list_filters(fleet: Fleet) -> None:
    fleet.emulator.admin("POST", "/faults", json={"ignore_list_filters": True})


def untouched(fleet: Fleet, before: dict[str, dict[str, Any]]) -> None:
    """Every seeded instance is still there with its label and tags, and was sent nothing
    but reads."""
    now = {i["id"]: i for i in fleet.live_instances()}
    for instance_id, seeded in before.items():
        assert instance_id in now, f"{seeded['label']} was deleted"
        assert (now[instance_id]["label"], now[instance_id]["tags"]) == (
            seeded["label"],
            seeded["tags"],
        )
    log = fleet.emulator.admin("GET", "/requests").json()["requests"]
    writes = [r for r in log if r["method"] != "GET" and r["path"].split("/")[-1] in before]
    assert writes == []


@pytest.mark.parametrize("action", ["adopt", "delete"])
@pytest.mark.parametrize("filters", ["honoured", "ignored"])
async def test_reconciliation_touches_only_instances_with_both_of_our_tags(
    fleet: Fleet, filters: str, action: str
):
    if filters == "ignored":
        ignore_list_filters(fleet)
    before = seed_not_ours(fleet)
    orphan_wf = f"server-orphan-{filters}-{action}"
    orphan = create_directly(fleet, orphan_wf, [MANAGED_TAG, instance_tag(orphan_wf)])

    report = await reconcile(fleet, action)

    assert [(f.kind, f.workflow_id, f.instance_id) for f in report.findings] == [
        ("orphan", orphan_wf, orphan)
    ], "the real orphan is found, proving reconciliation ran; nothing else is"
    assert report.instances_seen == 1
    assert report.not_ours == (len(NOT_OURS) if filters == "ignored" else LISTED_WITH_FILTER)
    (record,) = await fleet.db["reconciliations"].find().to_list()
    assert record["not_ours"] == report.not_ours
    if action == "adopt":
        handle = fleet.client.get_workflow_handle_for(ServerWorkflow.run, orphan_wf)
        await wait_until_ready(handle)
        assert (await handle.query(ServerWorkflow.status)).instance_id == orphan
        await handle.signal(
            ServerWorkflow.request_termination, {"reason": "test", "immediately": True}
        )
        assert (await handle.result()).state == ServerState.TERMINATED
    else:
        assert report.actions[0].startswith(f"deleted orphan {orphan}")
    assert orphan not in {i["id"] for i in fleet.live_instances()}
    untouched(fleet, before)


async def test_provisioning_never_adopts_an_instance_that_only_looks_like_ours(fleet: Fleet):
    """A server named web-1 next to a user's `server-web-1` (no tags) and one carrying only
    our workflow tag: with filters ignored, the create-time lookup must skip both."""
    ignore_list_filters(fleet)
    create_directly(fleet, "server-web-1", [])
    create_directly(fleet, "server-web-1", [instance_tag("server-web-1")])
    before = {i["id"]: i for i in fleet.live_instances()}
    handle = await fleet.start("web-1", billing_period_seconds=600)
    await wait_until_ready(handle)
    status = await handle.query(ServerWorkflow.status)
    assert status.instance_id not in before, "a new instance, not someone else's"
    await handle.signal(ServerWorkflow.request_termination, {"reason": "t", "immediately": True})
    await handle.result()
    await asyncio.sleep(0)  # the delete's confirmation is in the result; nothing else pending
    untouched(fleet, before)
