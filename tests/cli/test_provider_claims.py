"""Claims and warm pools at a provider other than Vultr: `claim --provider` takes and
reuses only that provider's servers, `pool start --provider` keeps members there, and
both ask for what the Vultr defaults cannot give them."""

from __future__ import annotations

import asyncio

import pytest

from tests.cli.support import Cli, one_error_line, unique

pytestmark = [pytest.mark.integration]

HETZNER = ("--provider", "hetzner", "--region", "fsn1", "--plan", "cx22")


async def test_a_hetzner_claim_is_served_and_reused_at_hetzner_only(hetzner_cli: Cli):
    first = await hetzner_cli(
        "claim", "--task", "hz-a", *HETZNER, "--image", "ubuntu-24.04", "--ttl", "30", "--json"
    )
    assert first.exit_code == 0, first.stderr
    server = first.json()["server"]
    hetzner_cli.started.add(server)
    status = (await hetzner_cli("status", server, "--json")).json()
    assert status["provider"] == "hetzner" and status["state"] == "EXECUTING"
    assert (await hetzner_cli("release", server, "--task", "hz-a")).exit_code == 0

    # A Vultr claim of any kind never takes the idle Hetzner server.
    vultr = (await hetzner_cli("claim", "--task", "vu-b", "--ttl", "30", "--json")).json()
    hetzner_cli.started.add(vultr["server"])
    assert vultr["server"] != server and vultr["reused"] is False
    shown = (await hetzner_cli("status", vultr["server"], "--json")).json()
    assert shown["provider"] == "vultr"

    again = (
        await hetzner_cli(
            "claim", "--task", "hz-c", *HETZNER, "--image", "ubuntu-24.04", "--ttl", "30", "--json"
        )
    ).json()
    assert again["server"] == server and again["reused"] is True
    await hetzner_cli("release", server, "--task", "hz-c")
    await hetzner_cli("release", vultr["server"], "--task", "vu-b")


async def test_a_hetzner_claim_without_its_region_plan_and_image_is_refused(hetzner_cli: Cli):
    result = await hetzner_cli("claim", "--task", "hz-x", "--provider", "hetzner")
    assert result.exit_code == 2
    assert one_error_line(result).startswith("--provider hetzner needs --region, --plan, --image")


async def test_a_pool_at_hetzner_keeps_its_member_there(hetzner_cli: Cli):
    pool = unique("hp")[:12]
    started = await hetzner_cli(
        "pool", "start", pool, "--min-idle", "1", *HETZNER, "--image", "ubuntu-24.04"
    )
    assert started.exit_code == 0, started.stderr
    try:
        for _ in range(120):
            listed = (await hetzner_cli("list", "--provider", "hetzner", "--json")).json()
            members = [s for s in listed if s["name"].startswith(f"{pool}-")]
            if any(s["state"] in ("READY", "IDLE") for s in members):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"the pool never provisioned its member at hetzner: {listed}")
        assert {s["provider"] for s in members} == {"hetzner"}
        hetzner_cli.started.update(s["name"] for s in members)
    finally:
        await hetzner_cli("pool", "stop", pool)
