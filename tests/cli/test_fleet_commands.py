"""claim / heartbeat / release, cost, reconcile, pool and quota commands end to end."""

from __future__ import annotations

import asyncio

from activities.fleet_store import QUOTA_RESOURCE
from core.naming import MANAGED_TAG
from leases import LeaseStore
from tests.cli.support import Cli, one_error_line, unique
from tests.integration.support import Fleet, create_directly
from tests.support.waits import wait_until


async def test_claim_provisions_when_nothing_is_available_then_release_frees_it(
    cli: Cli, fleet: Fleet
):
    got = await cli("claim", "--task", "job-1", "--ttl", "30", "--json")
    assert got.exit_code == 0, got.stderr
    claim = got.json()
    assert claim["reused"] is False and claim["task_id"] == "job-1"
    cli.started.add(claim["server"])
    status = (await cli("status", claim["server"], "--json")).json()
    assert status["state"] == "EXECUTING"
    beat = await cli("heartbeat", claim["server"], "--task", "job-1", "--ttl", "30")
    assert beat.exit_code == 0 and "renewed" in beat.stdout
    done = await cli("release", claim["server"], "--task", "job-1")
    assert done.exit_code == 0, done.stderr
    assert (await cli("status", claim["server"], "--json")).json()["state"] == "IDLE"
    again = await cli("release", claim["server"], "--task", "job-1")
    assert again.exit_code == 1 and "holds no live claim" in again.stderr


async def test_a_second_job_reuses_the_idle_server_already_paid_for(cli: Cli, fleet: Fleet):
    first = (await cli("claim", "--task", "a", "--ttl", "30", "--json")).json()
    cli.started.add(first["server"])
    await cli("release", first["server"], "--task", "a")
    second = (await cli("claim", "--task", "b", "--ttl", "30", "--json")).json()
    assert second["server"] == first["server"] and second["reused"] is True
    await cli("release", second["server"], "--task", "b")


async def test_cost_report_matches_the_ledger(cli: Cli, fleet: Fleet):
    name = unique("costly")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0
    assert (await cli("terminate", name, "--now")).exit_code == 0
    for _ in range(40):
        if not fleet.live_instances():
            break
        await asyncio.sleep(0.25)
    report = (await cli("cost", "--json")).json()
    (row,) = fleet.ledger()
    assert report["billed_hours"] == row["units"] == 1
    assert abs(report["cost"] - row["total"]) < 1e-9
    table = await cli("cost")
    assert table.exit_code == 0 and "total" in table.stdout


async def test_reconcile_now_reports_what_it_did_per_provider(cli: Cli):
    done = await cli("reconcile", "--json", ORPHAN_GRACE_SECONDS="0")
    assert done.exit_code == 0, done.stderr
    (report,) = done.json()["reports"]
    assert report["provider"] == "vultr" and report["actions"] == []
    assert done.json()["failures"] == {}
    text = await cli("reconcile", ORPHAN_GRACE_SECONDS="0")
    assert text.exit_code == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith("vultr: 0 managed instance(s); ")


async def test_reconcile_names_the_instances_it_left_alone_as_not_ours(cli: Cli, fleet: Fleet):
    theirs = create_directly(fleet, "server-db-1", [MANAGED_TAG])
    text = await cli("reconcile", ORPHAN_GRACE_SECONDS="0", ORPHAN_ACTION="delete")
    assert text.exit_code == 0, text.stderr
    assert text.stdout.splitlines()[:2] == [
        f"vultr: 0 managed instance(s); 1 other instance(s) seen, not ours, left alone: {theirs}",
        "  nothing to do",
    ]
    assert theirs in {i["id"] for i in fleet.live_instances()}


async def test_pool_start_set_and_stop(cli: Cli, fleet: Fleet):
    pool = unique("p")[:12]
    assert (await cli("pool", "start", pool, "--min-idle", "1")).exit_code == 0

    async def member_available() -> bool:
        docs = await fleet.db["servers"].find({"pool": pool}).to_list()
        return any(doc["state"] in ("READY", "IDLE") for doc in docs)

    await wait_until(member_available, within=20, what=f"a member of pool {pool} available")
    assert (await cli("pool", "set", pool, "--min-idle", "0")).exit_code == 0
    stopped = await cli("pool", "stop", pool)
    assert stopped.exit_code == 0, stopped.stderr
    missing = await cli("pool", "stop", "nosuchpool")
    assert missing.exit_code == 1 and "no running pool named nosuchpool" in missing.stderr
    async for doc in fleet.db["servers"].find({"pool": pool}):
        cli.started.add(doc["name"])
    bad = await cli("pool", "start", "Bad_Name", "--min-idle", "1")
    assert bad.exit_code == 2
    assert one_error_line(bad).startswith("invalid request for pool Bad_Name: pool: ")


async def test_quota_is_shown_set_in_mongodb_and_a_bad_value_refused(cli: Cli, fleet: Fleet):
    unset = await cli("quota")
    changed = await cli("quota", "--set", "3")
    bad = await cli("quota", "--set", "0")
    shown = (await cli("quota", "--json")).json()

    assert unset.exit_code == 0 and "not stored yet" in unset.stdout
    assert changed.exit_code == 0
    assert changed.stdout.strip() == "vultr account quota: 3 live servers, 0 slot(s) taken"
    assert bad.exit_code == 2 and "--set" in bad.stderr and "Traceback" not in bad.stderr
    assert shown == {"provider": "vultr", "limit": 3, "taken": 0}
    assert await LeaseStore(fleet.db).get_limit(QUOTA_RESOURCE) == 3
    # Each provider account has its own: setting Hetzner's leaves Vultr's as it was.
    hetzner = await cli("quota", "--provider", "hetzner", "--set", "2")
    assert hetzner.stdout.strip() == "hetzner account quota: 2 live servers, 0 slot(s) taken"
    assert await LeaseStore(fleet.db).get_limit("quota:servers:hetzner") == 2
    assert await LeaseStore(fleet.db).get_limit(QUOTA_RESOURCE) == 3
    unknown = await cli("quota", "--provider", "aws")
    assert unknown.exit_code == 2 and "unknown provider 'aws'" in unknown.stderr
