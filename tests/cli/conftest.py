"""The CLI run in-process (typer's CliRunner, in a thread so the test loop keeps serving
the workers) against the integration fleet: dev server, embedded MongoDB, emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.service import RPCError

from client.fleet import ServerFleet
from core.models import workflow_id_for
from tests.cli.support import Cli, cli_env
from tests.integration.conftest import (  # noqa: F401 - fixtures used by the CLI tests
    fast_emulator,
    fast_hetzner,
    fleet,
    fleet_factory,
)
from tests.integration.support import Fleet
from tests.support.emulator import TEST_API_KEY, RunningEmulator


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
