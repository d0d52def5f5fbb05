"""Temporal down or frozen: `list` still answers from MongoDB, and every command that needs
Temporal gives up within CLI_TIMEOUT_SECONDS with one line naming the address."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from devstack.procs import free_port
from tests.cli.support import Cli, one_error_line, unique

pytestmark = [pytest.mark.integration]


@pytest.fixture
def frozen_temporal() -> Iterator[str]:
    """An address that accepts connections and never answers, as a Temporal server stopped
    with SIGSTOP does (the kernel completes the handshake; nobody reads)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


async def test_list_answers_from_mongodb_while_temporal_is_frozen_or_absent(
    cli: Cli, frozen_temporal: str
):
    name = unique("nt")
    assert (await cli("provision", name, "--wait", "ready")).exit_code == 0

    for address in (frozen_temporal, f"127.0.0.1:{free_port()}"):
        began = time.monotonic()
        listed = await cli("list", "--json", TEMPORAL_ADDRESS=address, CLI_TIMEOUT_SECONDS="1")

        assert listed.exit_code == 0, listed.stderr
        assert [s["name"] for s in listed.json()] == [name]
        assert [s["state"] for s in listed.json()] == ["READY"]
        assert time.monotonic() - began < 5


COMMANDS = {
    "status": ["status", "web-1"],
    "busy": ["busy", "web-1", "--task", "t-1"],
    "idle": ["idle", "web-1", "--task", "t-1"],
    "terminate": ["terminate", "web-1", "--now"],
    "provision": ["provision", "web-1"],
    "claim": ["claim", "--task", "t-1"],
    "pool stop": ["pool", "stop", "ci"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
async def test_a_frozen_temporal_is_given_up_on_within_the_cli_timeout(
    cli: Cli, frozen_temporal: str, command: str
):
    began = time.monotonic()
    result = await cli(
        *COMMANDS[command], TEMPORAL_ADDRESS=frozen_temporal, CLI_TIMEOUT_SECONDS="1"
    )
    elapsed = time.monotonic() - began

    assert result.exit_code == 1
    assert one_error_line(result).startswith(
        f"Temporal at TEMPORAL_ADDRESS={frozen_temporal} did not answer within 1 s "
        "(CLI_TIMEOUT_SECONDS)"
    )
    assert 1 <= elapsed < 4
