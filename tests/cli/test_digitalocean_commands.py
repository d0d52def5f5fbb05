"""The CLI on a DigitalOcean Droplet: provisioned from an image slug with an idle window,
shown as such by `status`, and priced in seconds by `cost`."""

from __future__ import annotations

import re

import pytest

from tests.cli.support import Cli, cli_env, unique
from tests.integration.conftest import (  # noqa: F401 - fixtures used here
    do_fleet,
    fast_digitalocean,
    fast_emulator,
    fleet_factory,
)
from tests.integration.support import Fleet
from tests.support.emulator import TEST_API_KEY

pytestmark = [pytest.mark.integration]


async def test_a_droplet_shows_its_idle_window_and_is_priced_in_seconds(
    do_fleet: Fleet,  # noqa: F811 - the imported fixture
):
    env = {
        **cli_env(do_fleet),
        "DIGITALOCEAN_TOKEN": TEST_API_KEY,
        "DIGITALOCEAN_API_URL": do_fleet.settings.digitalocean_api_url,
    }
    cli = Cli(env)
    name = unique("do-cli")
    started = await cli(
        "provision", name, "--provider", "digitalocean", "--region", "nyc3",
        "--plan", "s-1vcpu-1gb", "--image", "ubuntu-24-04-x64", "--idle-window", "30",
        "--wait", "ready",
    )  # fmt: skip
    assert started.exit_code == 0, started.stderr
    assert re.search(r"is READY: .*; deleted at .* UTC \(idle window\) unless busy", started.stdout)
    shown = await cli("status", name)
    assert re.search(r"deleting at \d\d:\d\d:\d\d \(idle window\)", shown.stdout), shown.stdout
    await cli("terminate", name, "--now")
    report = await cli("cost", "--json")
    (line,) = [s for s in report.json()["servers"] if s["name"] == name]
    assert line["billed_seconds"] >= 60 and line["billed_hours"] == 0
    assert line["delete_at_once_cost"] is not None and line["keep_running_cost"] is not None
