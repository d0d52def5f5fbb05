"""Histories recorded by earlier versions of ServerWorkflow replay on the current code:
changes to activity options (timeouts, heartbeats) must not break running servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.server import ServerWorkflow

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize("name", sorted(p.name for p in HISTORIES.glob("*.json")))
async def test_recorded_history_replays_on_the_current_workflow(name: str) -> None:
    path = HISTORIES / name
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[ServerWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
