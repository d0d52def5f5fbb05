"""Instances that only look like ours, on every provider: with list filters honoured or
ignored (as a provider may ignore a deprecated one), and ORPHAN_ACTION adopt or delete,
reconciliation never deletes, adopts or counts them as ours; its record names each of
them once as not ours, and a real orphan seeded beside them is handled."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core.naming import MANAGED_TAG, WORKFLOW_TAG_PREFIX, instance_tag
from providers.hetzner.labels import labels_from_tags
from tests.integration.support import DIGITALOCEAN_UBUNTU as DO_UBUNTU
from tests.integration.support import HETZNER_UBUNTU as HZ_UBUNTU
from tests.integration.support import Fleet
from tests.support.emulator import TEST_API_KEY, RunningEmulator
from workflows.reconcile import ReconcileInput, ReconcileWorkflow

pytestmark = [pytest.mark.integration]

# Name -> tags (Hetzner gets them as labels). Seen from our side, none of them is ours.
LOOKALIKES: dict[str, list[str]] = {
    "my-postgres": [],  # no marks at all
    "server-db-1": [],  # named like one of our servers
    "server-db-2": ["team:data"],
    "server-db-3": [MANAGED_TAG],  # our managed mark, no workflow mark
    "server-db-4": ["managed-by:other-tool", instance_tag("server-db-4")],  # another manager
    "server-db-5": [instance_tag("server-db-5")],  # workflow mark only
    "server-db-6": [MANAGED_TAG, WORKFLOW_TAG_PREFIX + "reconcile-fleet"],  # not a server
    "server-db-7": [MANAGED_TAG, WORKFLOW_TAG_PREFIX + "server-DB_7"],  # no valid server name
}
# What a listing filtered on our managed mark holds of them.
LISTED_WITH_FILTER = {name for name, tags in LOOKALIKES.items() if MANAGED_TAG in tags}


@dataclass
class Account:
    """One provider's emulated account, reached over its own API, and a fleet serving it."""

    provider: str
    emulator: RunningEmulator
    fleet: Fleet

    def _api(self, method: str, path: str, **kw: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.emulator.api_url}{path}",
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
            timeout=10,
            **kw,
        )
        response.raise_for_status()
        return response.json()

    def create(self, name: str, tags: list[str]) -> str:
        if self.provider == "vultr":
            body = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284}
            return self._api("POST", "/instances", json={**body, "label": name, "tags": tags})[
                "instance"
            ]["id"]
        if self.provider == "hetzner":
            body = {"server_type": "cx22", "location": "fsn1", "image": str(HZ_UBUNTU)}
            body |= {"name": name, "labels": labels_from_tags(tags)}
            return str(self._api("POST", "/servers", json=body)["server"]["id"])
        body = {"region": "nyc3", "size": "s-1vcpu-1gb", "image": DO_UBUNTU}
        return str(
            self._api("POST", "/droplets", json={**body, "name": name, "tags": tags})["droplet"][
                "id"
            ]
        )

    def live(self) -> set[str]:
        path, key = {
            "vultr": ("/instances", "instances"),
            "hetzner": ("/servers", "servers"),
            "digitalocean": ("/droplets", "droplets"),
        }[self.provider]
        return {str(i["id"]) for i in self._api("GET", path, params={"per_page": 50})[key]}

    def ledger(self) -> dict[str, Any]:
        rows = self.emulator.admin("GET", "/ledger").json()["ledger"]
        return {str(r.get("instance_id", r.get("server_id"))): r["deleted_at"] for r in rows}

    def writes_to(self, ids: set[str]) -> list[dict[str, Any]]:
        log = self.emulator.admin("GET", "/requests").json()["requests"]
        return [r for r in log if r["method"] != "GET" and ids & set(r["path"].split("/"))]


@pytest.fixture(params=["vultr", "hetzner", "digitalocean"])
async def account(request: pytest.FixtureRequest, fleet_factory: Any) -> Account:
    provider = request.param
    if provider == "vultr":
        fleet = await fleet_factory()
        return Account(provider, fleet.emulator, fleet)
    emulator: RunningEmulator = request.getfixturevalue(f"fast_{provider}")
    emulator.reset()
    token = {"hetzner": "hcloud", "digitalocean": "digitalocean"}[provider]
    # Each at its provider's highest request rate the settings allow.
    fleet = await fleet_factory(
        **{
            f"{token}_token": TEST_API_KEY,
            f"{token}_api_url": emulator.api_url,
            f"{provider}_requests_per_second": {"hetzner": 1, "digitalocean": 4}[provider],
        }
    )
    return Account(provider, emulator, fleet)


async def no_workflow(fleet: Fleet, workflow_id: str) -> bool:
    try:
        await fleet.client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return True
        raise
    return False


async def eventually(check: Any, seconds: float = 6) -> bool:
    for _ in range(int(seconds / 0.2)):
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.mark.parametrize("action", ["adopt", "delete"])
@pytest.mark.parametrize("filters", ["honoured", "ignored"])
async def test_lookalikes_are_left_alone_and_named_once_as_not_ours(
    account: Account, filters: str, action: str
):
    if filters == "ignored":
        account.emulator.admin("POST", "/faults", json={"ignore_list_filters": True})
    seeded = {account.create(name, tags): name for name, tags in LOOKALIKES.items()}
    orphan_wf = f"server-orphan-{account.provider[:2]}-{filters[:3]}-{action}"
    orphan = account.create(orphan_wf, [MANAGED_TAG, instance_tag(orphan_wf)])
    ledger_before = {i: account.ledger()[i] for i in seeded}

    fleet = account.fleet
    report = await fleet.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(
            grace_seconds=0, orphan_action=action, provider=account.provider, policy=fleet.policy()
        ),
        id=f"reconcile-{uuid.uuid4().hex[:8]}",
        task_queue=fleet.settings.temporal_task_queue,
    )

    # Only the real orphan is ours and handled: proof the run saw the account at all.
    assert [(f.kind, f.instance_id) for f in report.findings] == [("orphan", orphan)]
    assert report.instances_seen == 1
    assert len(report.actions) == 1 and orphan in report.actions[0]
    listed = {i for i, n in seeded.items() if filters == "ignored" or n in LISTED_WITH_FILTER}
    (record,) = await fleet.db["reconciliations"].find({"provider": account.provider}).to_list()
    assert record["not_ours"] == len(listed)
    assert sorted(record["not_ours_ids"]) == sorted(listed), "each lookalike listed, once"
    assert record["not_ours_ids"] == report.not_ours_ids

    if action == "adopt":
        # That the adopted workflow keeps the orphan rather than replacing it is
        # test_hetzner_reconcile's and test_ownership's; here: adopted, and only it.
        assert report.actions == [f"adopted orphan {orphan} as {orphan_wf}"]
        handle = fleet.client.get_workflow_handle(orphan_wf)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("test over")
    else:
        assert report.actions[0].startswith(f"deleted orphan {orphan}")

        async def deleted() -> bool:
            return orphan not in account.live()

        assert await eventually(deleted), "the orphan was deleted at the provider"

    # Nothing that only looks like ours was deleted, billed differently, written or adopted.
    assert set(seeded) <= account.live()
    assert {i: account.ledger()[i] for i in seeded} == ledger_before
    assert account.writes_to(set(seeded)) == []
    candidates = set(LOOKALIKES) | {
        t.removeprefix(WORKFLOW_TAG_PREFIX)
        for tags in LOOKALIKES.values()
        for t in tags
        if t.startswith(WORKFLOW_TAG_PREFIX)
    }
    assert [wf for wf in sorted(candidates) if not await no_workflow(fleet, wf)] == []
