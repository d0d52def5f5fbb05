"""What the CLI tests share: the CLI run in-process (typer's CliRunner, in a thread so
the test loop keeps serving the workers) against the integration fleet, and what they
check of a refused command (one clear error line, nothing started)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from client.errors import ServerNotFound
from client.fleet import ServerFleet
from tests.integration.support import MARGIN, PERIOD, Fleet
from tests.support.emulator import TEST_API_KEY


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    """`await cli("status", "web-1", "--json")` runs `starter.py status web-1 --json`."""

    env: dict[str, str]
    started: set[str] = field(default_factory=set)

    async def __call__(self, *args: str, **env: str) -> CliResult:
        runner = CliRunner()
        result = await asyncio.to_thread(
            runner.invoke, app, list(args), env={**self.env, **env}, catch_exceptions=True
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            # An expected failure ends with a message and an exit code, never this.
            raise result.exception
        if args and args[0] == "provision":
            count = int(args[args.index("--count") + 1]) if "--count" in args else 0
            names = [f"{args[1]}-{i}" for i in range(1, count + 1)] if count else [args[1]]
            self.started.update(names)
        return CliResult(result.exit_code, result.stdout, result.stderr)


def unique(prefix: str) -> str:
    """Server names are workflow ids on a dev server shared by the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def cli_env(fleet: Fleet) -> dict[str, str]:
    s = fleet.settings
    return {
        "TEMPORAL_ADDRESS": fleet.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": fleet.client.namespace,
        "TEMPORAL_TASK_QUEUE": s.temporal_task_queue,
        "MONGO_URI": s.mongo_uri,
        "MONGO_DB": s.mongo_db,
        "VULTR_API_URL": s.vultr_api_url,
        "VULTR_API_KEY": TEST_API_KEY,
        "BILLING_PERIOD_SECONDS": str(PERIOD),
        "TERMINATE_BEFORE_SECONDS": str(MARGIN),
    }


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
