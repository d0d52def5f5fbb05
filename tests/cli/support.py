"""What the CLI tests check of a refused command: one clear error line, and nothing
started."""

from __future__ import annotations

import pytest

from client.errors import ServerNotFound
from client.fleet import ServerFleet
from tests.cli.conftest import CliResult
from tests.integration.support import Fleet


def one_error_line(result: CliResult) -> str:
    """The single stderr line of a failed command, without its 'error: ' prefix."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0].removeprefix("error: ")


async def assert_never_started(server_fleet: ServerFleet, fleet: Fleet, name: str) -> None:
    with pytest.raises(ServerNotFound):
        await server_fleet.status(name)
    assert fleet.ledger() == []
