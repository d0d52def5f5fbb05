"""The operator's day: provision, look, mark busy and idle, terminate, list."""

from __future__ import annotations

import asyncio
import shlex
from datetime import datetime

import pytest

from client.fleet import ServerFleet
from core.lifecycle import ServerState
from core.models import ServerInput
from devstack.procs import venv_bin
from tests.cli.support import Cli, Fleet, unique

pytestmark = [pytest.mark.integration]

JSON_KEYS = [
    "name",
    "workflow_id",
    "state",
    "instance_id",
    "main_ip",
    "provider",
    "region",
    "plan",
    "billing_start",
    "next_boundary",
    "terminate_at",
    "termination",
    "billed_hours",
    "cost",
]
# `status --json` adds what runs there and what happened to it.
DETAIL_KEYS = ["active_tasks", "error", "rejected", "timeline"]


async def test_provision_status_busy_idle_terminate_carry_a_server_through_its_life(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet
):
    name = unique("web")

    made = await cli("provision", name, "--wait", "ready", "--json")
    assert made.exit_code == 0, made.stderr
    ready = made.json()
    assert ready["state"] == "READY"
    assert ready["instance_id"]

    shown = await cli("status", name, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["instance_id"] == ready["instance_id"]

    busy = await cli("busy", name, "--task", "job-1", "--json")
    assert busy.exit_code == 0, busy.stderr
    assert busy.json()["state"] == "EXECUTING"

    idle = await cli("idle", name, "--task", "job-1", "--json")
    assert idle.exit_code == 0, idle.stderr
    assert idle.json()["state"] == "IDLE"

    gone = await cli("terminate", name, "--now", "--json")
    assert gone.exit_code == 0, gone.stderr
    await server_fleet.wait_for_state(name, {ServerState.TERMINATED}, timeout=30)

    final = (await cli("status", name, "--json")).json()
    assert final["state"] == "TERMINATED"
    assert final["billed_hours"] == 1
    (row,) = fleet.ledger()
    assert row["instance_id"] == ready["instance_id"]
    assert row["deleted_at"] is not None


async def test_status_json_has_exactly_the_documented_keys_with_iso_times(cli: Cli):
    name = unique("keys")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0

    status = (await cli("status", name, "--json")).json()
    (listed,) = [s for s in (await cli("list", "--json")).json() if s["name"] == name]

    assert list(status) == JSON_KEYS + DETAIL_KEYS
    assert list(listed) == JSON_KEYS
    assert [entry["state"] for entry in status["timeline"]][:2] == ["PROVISIONING", "READY"]
    assert status["workflow_id"] == f"server-{name}"
    for key in ("billing_start", "next_boundary", "terminate_at"):
        assert datetime.fromisoformat(status[key]).tzinfo is not None, key


async def test_status_without_json_shows_the_server_and_its_timeline(cli: Cli):
    name = unique("human")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0

    shown = await cli("status", name)

    assert shown.exit_code == 0
    assert name in shown.stdout
    assert "READY" in shown.stdout
    assert "timeline" in shown.stdout
    assert "PROVISIONING" in shown.stdout


async def test_temporal_cli_signals_mark_a_server_busy_and_idle(
    cli: Cli, server_fleet: ServerFleet
):
    name = unique("sig")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0
    address = cli.env["TEMPORAL_ADDRESS"]

    async def signal(which: str) -> None:
        # The README's command, run through a shell so its quoting is what is tested.
        command = (
            f"{shlex.quote(venv_bin('temporal'))} workflow signal --address {address} "
            f'--workflow-id server-{name} --name {which} --input \'{{"task_id": "job-1"}}\''
        )
        proc = await asyncio.create_subprocess_shell(
            command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, (out + err).decode()

    await signal("mark_busy")
    busy = await server_fleet.wait_for_state(name, {ServerState.EXECUTING}, timeout=15)
    assert busy.active_tasks == ["job-1"]

    await signal("mark_idle")
    idle = await server_fleet.wait_for_state(name, {ServerState.IDLE}, timeout=15)
    assert idle.active_tasks == []


async def test_provision_count_starts_numbered_servers(cli: Cli):
    prefix = unique("batch")

    made = await cli("provision", prefix, "--count", "3", "--json")

    assert made.exit_code == 0, made.stderr
    started = made.json()
    assert [s["name"] for s in started] == [f"{prefix}-{i}" for i in (1, 2, 3)]
    assert {s["state"] for s in started} == {"PROVISIONING"}
    assert all(s["run_id"] for s in started)


async def test_list_shows_live_servers_and_all_adds_finished_ones(
    cli: Cli, server_fleet: ServerFleet
):
    prefix = unique("ls")
    assert (await cli("provision", prefix, "--count", "2", "--wait", "ready")).exit_code == 0
    done, live = f"{prefix}-1", f"{prefix}-2"
    assert (await cli("terminate", done, "--now")).exit_code == 0
    await server_fleet.wait_for_state(done, {ServerState.TERMINATED}, timeout=30)

    default = (await cli("list", "--json")).json()
    everything = (await cli("list", "--all", "--json")).json()
    terminated = (await cli("list", "--state", "terminated", "--json")).json()

    assert [s["name"] for s in default] == [live]
    assert [s["name"] for s in everything] == [done, live]
    assert [s["name"] for s in terminated] == [done]
    assert all(list(s) == JSON_KEYS for s in everything)
    by_provider = (await cli("list", "--all", "--provider", "vultr", "--json")).json()
    assert [(s["name"], s["provider"]) for s in by_provider] == [(done, "vultr"), (live, "vultr")]
    unknown = await cli("list", "--provider", "nimbus")
    assert unknown.exit_code == 2 and "unknown provider 'nimbus'" in unknown.stderr


async def test_list_without_json_prints_a_table_of_servers(cli: Cli):
    name = unique("tbl")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0

    shown = await cli("list")

    assert shown.exit_code == 0
    assert name in shown.stdout
    assert "READY" in shown.stdout


async def test_provision_policy_flags_reach_the_workflow(cli: Cli, server_fleet: ServerFleet):
    name = unique("keep")

    made = await cli(
        "provision", name, "--keep-idle", "--max-idle", "7", "--max-lifetime", "900", "--json"
    )

    assert made.exit_code == 0, made.stderr
    handle = server_fleet.client.get_workflow_handle(made.json()["workflow_id"])
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (inp,) = await server_fleet.client.data_converter.decode(started.input.payloads, [ServerInput])
    # Only what was set travels: the worker resolves the rest from its settings.
    assert inp.policy is None
    assert inp.overrides.model_dump(exclude_none=True) == {
        "terminate_idle_at_deadline": False,
        "max_idle_seconds": 7,
        "max_lifetime_seconds": 900,
    }
    assert (await cli("terminate", name, "--now")).exit_code == 0
