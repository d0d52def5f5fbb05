"""Bad input and refused requests: a clear one-line message, a non-zero exit, and nothing
started or changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.fleet import ServerFleet
from core.lifecycle import ServerState
from core.models import MAX_CLOUD_INIT_BYTES
from devstack.procs import free_port
from tests.cli.support import Cli, Fleet, assert_never_started, cli_env, one_error_line, unique

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize(
    ("option", "value", "problem", "a_valid_choice"),
    [
        ("--region", "mars", "unknown region 'mars'", "ewr"),
        ("--plan", "vc9-huge", "unknown plan 'vc9-huge'", "vc2-1c-1gb"),
        ("--os-id", "99999", "unknown os_id 99999", "known:"),
        ("--provider", "nimbus", "unknown provider 'nimbus'", "vultr"),
    ],
)
async def test_an_unknown_region_plan_or_os_is_refused_before_anything_starts(
    cli: Cli,
    fleet: Fleet,
    server_fleet: ServerFleet,
    option: str,
    value: str,
    problem: str,
    a_valid_choice: str,
):
    name = unique("nowhere")

    result = await cli("provision", name, option, value)

    assert result.exit_code == 2
    message = one_error_line(result)
    assert problem in message
    assert a_valid_choice in message
    await assert_never_started(server_fleet, fleet, name)


async def test_a_name_that_is_running_cannot_be_provisioned_again(cli: Cli):
    name = unique("dup")
    assert (await cli("provision", name)).exit_code == 0

    again = await cli("provision", name)

    assert again.exit_code == 1
    message = one_error_line(again)
    assert f"server {name} already exists and is" in message


@pytest.mark.parametrize("command", ["busy", "idle"])
async def test_busy_or_idle_for_an_unknown_server_says_there_is_none(cli: Cli, command: str):
    name = unique("ghost")

    result = await cli(command, name, "--task", "job-1")

    assert result.exit_code == 1
    assert one_error_line(result).startswith(f"no server named {name}")


async def test_status_of_an_unknown_server_says_there_is_none(cli: Cli):
    name = unique("ghost")

    result = await cli("status", name, "--json")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert one_error_line(result).startswith(f"no server named {name}")


async def test_idle_for_a_task_that_is_not_running_carries_the_workflows_reason(cli: Cli):
    name = unique("notask")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0

    result = await cli("idle", name, "--task", "job-x")

    assert result.exit_code == 1
    assert one_error_line(result) == f"task job-x is not running on {name} (running: none)"


async def test_a_second_terminate_is_refused_while_the_first_is_pending(cli: Cli):
    name = unique("twice")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0
    assert (await cli("terminate", name)).exit_code == 0

    again = await cli("terminate", name)

    assert again.exit_code == 1
    assert one_error_line(again) == (
        "termination already requested (requested by operator); use --now to delete it at once"
    )


async def test_requests_to_a_finished_server_say_it_has_finished(
    cli: Cli, server_fleet: ServerFleet
):
    name = unique("done")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0
    assert (await cli("terminate", name, "--now")).exit_code == 0
    await server_fleet.wait_for_state(name, {ServerState.TERMINATED}, timeout=30)

    terminate = await cli("terminate", name)
    busy = await cli("busy", name, "--task", "late-job")

    for result in (terminate, busy):
        assert result.exit_code == 1
        assert one_error_line(result).startswith(f"server {name} has already finished (TERMINATED)")


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.yaml"


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.yaml"
    path.write_text("  \n")
    return path


def _oversized(tmp_path: Path) -> Path:
    path = tmp_path / "huge.yaml"
    path.write_text("#" * (MAX_CLOUD_INIT_BYTES + 1))
    return path


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    return path


def _directory(tmp_path: Path) -> Path:
    return tmp_path


@pytest.mark.parametrize(
    ("make_file", "problem"),
    [
        (_missing, "cannot read cloud-init file"),
        (_empty, "is empty"),
        (_oversized, f"Vultr accepts at most {MAX_CLOUD_INIT_BYTES} bytes"),
        (_binary, "is not UTF-8 text"),
        (_directory, "is a directory"),
    ],
)
async def test_an_unusable_cloud_init_file_is_refused_before_anything_starts(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet, tmp_path: Path, make_file, problem: str
):
    name = unique("ci")

    result = await cli("provision", name, "--cloud-init", str(make_file(tmp_path)))

    assert result.exit_code == 2
    assert problem in one_error_line(result)
    await assert_never_started(server_fleet, fleet, name)


async def test_a_readable_cloud_init_file_is_accepted(cli: Cli, tmp_path: Path):
    script = tmp_path / "init.yaml"
    script.write_text("#cloud-config\npackages: [htop]\n")

    result = await cli("provision", unique("ci-ok"), "--cloud-init", str(script), "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json()["state"] == "PROVISIONING"


async def test_an_invalid_name_is_refused_before_anything_starts(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet
):
    result = await cli("provision", "Web_1")

    assert result.exit_code == 2
    assert one_error_line(result).startswith("invalid server name 'Web_1'")
    assert fleet.ledger() == []


async def test_a_batch_whose_last_name_is_too_long_starts_nothing(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet
):
    prefix = "b" * 46  # b...b-1 fits in 48 characters, b...b-10 does not

    result = await cli("provision", prefix, "--count", "10")

    assert result.exit_code == 2
    assert f"invalid server name '{prefix}-10'" in one_error_line(result)
    await assert_never_started(server_fleet, fleet, f"{prefix}-1")


async def test_wait_ready_reports_a_server_that_failed_with_its_reason(fleet_factory):  # type: ignore[no-untyped-def]
    name = unique("slow")
    # The emulator boots in 2 s; the worker's 1 s readiness timeout fails the server.
    cli = Cli(cli_env(await fleet_factory(readiness_timeout_seconds=1)))

    result = await cli("provision", name, "--wait", "ready", "--wait-timeout", "30")

    assert result.exit_code == 1
    message = one_error_line(result)
    assert message.startswith(f"server {name} failed: ")
    assert "timed out" in message


async def test_invalid_settings_exit_2_naming_the_variable(cli: Cli):
    result = await cli("status", "web-1", TEMPORAL_ADDRESS="no-port-here")

    assert result.exit_code == 2
    message = one_error_line(result)
    assert "TEMPORAL_ADDRESS" in message
    assert "HOST:PORT" in message


async def test_an_unreachable_temporal_is_named_by_its_setting(cli: Cli):
    address = f"127.0.0.1:{free_port()}"

    result = await cli("status", "web-1", TEMPORAL_ADDRESS=address)

    assert result.exit_code == 1
    assert f"TEMPORAL_ADDRESS={address}" in one_error_line(result)


async def test_an_unreachable_mongodb_is_named_by_its_setting(cli: Cli):
    result = await cli("list", MONGO_URI=f"mongodb://127.0.0.1:{free_port()}")

    assert result.exit_code == 1
    message = one_error_line(result)
    assert "MONGO_URI" in message
    assert "Topology" not in message


async def test_dev_with_an_invalid_port_setting_exits_2_naming_it(cli: Cli):
    result = await cli("dev", DEVSTACK_TEMPORAL_PORT="not-a-port")

    assert result.exit_code == 2
    assert "DEVSTACK_TEMPORAL_PORT" in one_error_line(result)


@pytest.mark.parametrize(
    "command",
    ["provision", "busy", "idle", "terminate", "status", "list", "dev", "demo"],
)
async def test_every_command_has_help(cli: Cli, command: str):
    result = await cli(command, "--help")

    assert result.exit_code == 0
    assert "Usage:" in result.stdout


async def test_an_invalid_policy_is_refused_before_anything_starts(
    cli: Cli, fleet: Fleet, server_fleet: ServerFleet
):
    name = unique("pol")

    result = await cli("provision", name, "--max-idle", "0")

    assert result.exit_code == 2
    message = one_error_line(result)
    assert message.startswith("invalid server policy: max_idle_seconds:"), message
    await assert_never_started(server_fleet, fleet, name)
