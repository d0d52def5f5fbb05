"""A component's output goes to its log file as plain text, whatever the terminal asks for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devstack.procs import ManagedProcess

# Prints in colour the way the project's tools do when they think a terminal wants it.
_COLOURFUL = (
    "from rich.console import Console\n"
    "Console().print('[bold red]ERROR[/] something', highlight=False)\n"
    "import time; time.sleep(30)\n"
)


def test_a_component_log_has_no_colour_codes_even_when_colour_is_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # as a user's shell may set it
    log = tmp_path / "logs" / "colourful.log"
    proc = ManagedProcess(
        "colourful",
        [sys.executable, "-c", _COLOURFUL],
        log,
        ready=lambda: "something" in log.read_text(),
    )
    proc.start(timeout=20)
    proc.stop(grace=1)

    text = log.read_text()
    assert "ERROR something" in text
    assert "\x1b[" not in text
