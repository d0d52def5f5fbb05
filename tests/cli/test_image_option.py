"""`--image`, the provider-neutral OS image flag: a Hetzner image name, a Vultr OS id
(as --os-id, kept), an unknown image refused with the valid choices, and a provider
other than Vultr asked for what the Vultr defaults cannot give it."""

from __future__ import annotations

import pytest

from core.lifecycle import ServerState
from tests.cli.support import Cli, Fleet, one_error_line, unique
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.integration]

HETZNER = ("--provider", "hetzner", "--region", "fsn1", "--plan", "cx22")


async def test_a_hetzner_server_is_provisioned_with_an_image_name(
    hetzner_cli: Cli,
    fast_hetzner: RunningEmulator,  # noqa: F811
):
    name = unique("hz-img")
    result = await hetzner_cli("provision", name, *HETZNER, "--image", "ubuntu-24.04", "--json")
    assert result.exit_code == 0, result.stderr
    status = (await hetzner_cli("status", name, "--json")).json()
    assert status["provider"] == "hetzner" and status["state"] in {
        ServerState.PROVISIONING,
        ServerState.READY,
    }


async def test_an_unknown_hetzner_image_is_refused_with_the_valid_ones(hetzner_cli: Cli):
    name = unique("hz-noimg")
    result = await hetzner_cli("provision", name, *HETZNER, "--image", "plan9-4")
    assert result.exit_code == 2
    message = one_error_line(result)
    assert "unknown image 'plan9-4'" in message and "ubuntu-24.04" in message
    assert (await hetzner_cli("status", name)).exit_code != 0


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ((), "--region, --plan, --image"),
        (("--region", "fsn1", "--plan", "cx22"), "--image"),
        (("--image", "ubuntu-24.04"), "--region, --plan"),
    ],
)
async def test_hetzner_without_region_plan_or_image_names_what_to_pass(
    cli: Cli, given: tuple[str, ...], missing: str
):
    result = await cli("provision", unique("hz-bare"), "--provider", "hetzner", *given)
    assert result.exit_code == 2
    message = one_error_line(result)
    assert message.startswith(f"--provider hetzner needs {missing} ("), message


async def test_for_vultr_image_is_the_os_id(cli: Cli, fleet: Fleet):
    name = unique("vu-img")
    result = await cli("provision", name, "--image", "2284", "--json")
    assert result.exit_code == 0, result.stderr
    refused = await cli("provision", unique("vu-img"), "--image", "ubuntu-24.04")
    assert refused.exit_code == 2
    assert "image 'ubuntu-24.04' is not a Vultr OS id" in one_error_line(refused)
    both = await cli("provision", unique("vu-img"), "--image", "2284", "--os-id", "2284")
    assert both.exit_code == 2 and "--image or --os-id, not both" in one_error_line(both)


async def test_help_says_which_values_each_provider_takes(cli: Cli):
    text = " ".join((await cli("provision", "--help")).stdout.split())
    for words in ("Hetzner: location", "Hetzner: server type", "Hetzner: image name or id"):
        assert words in text, words
