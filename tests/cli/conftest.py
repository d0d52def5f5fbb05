"""The CLI run in-process (typer's CliRunner, in a thread so the test loop keeps serving
the workers) against the integration fleet: dev server, embedded MongoDB, emulator."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.service import RPCError
from typer.testing import CliRunner

from cli.app import app
from client.fleet import ServerFleet
from core.models import workflow_id_for
from tests.integration.conftest import (  # noqa: F401 - fixtures used by the CLI tests
    fast_emulator,
    fast_hetzner,
    fleet,
    fleet_factory,
)
from tests.integration.support import MARGIN, PERIOD, Fleet
from tests.support.emulator import TEST_API_KEY, RunningEmulator


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


def cli_env(fleet: Fleet) -> dict[str, str]:  # noqa: F811 - a Fleet, not the fixture
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


@pytest.fixture
async def cli(fleet: Fleet) -> AsyncIterator[Cli]:  # noqa: F811 - the imported fixture
    runner = Cli(cli_env(fleet))
    yield runner
    # Workflows outlive this test's workers on the shared dev server: end them.
    for name in runner.started:
        try:
            await fleet.client.get_workflow_handle(workflow_id_for(name)).terminate("test over")
        except (RPCError, ValueError):
            pass


@pytest.fixture
def server_fleet(fleet: Fleet) -> ServerFleet:  # noqa: F811 - the imported fixture
    """The Python API on the same fleet (for looking at what the CLI did)."""
    return ServerFleet(fleet.client, fleet.settings, fleet.db)


@pytest.fixture
async def hetzner_cli(fleet_factory: Any, fast_hetzner: RunningEmulator) -> Any:  # noqa: F811
    """The CLI against workers that serve Hetzner (through its emulator) beside Vultr."""
    fast_hetzner.reset()
    both: Fleet = await fleet_factory(
        hcloud_token=TEST_API_KEY, hcloud_api_url=fast_hetzner.api_url
    )
    runner = Cli(cli_env(both))
    yield runner
    for name in runner.started:
        await runner("terminate", name, "--now")
