"""How a component runs: its output goes to its log file as plain text, whatever the
terminal asks for, and a port taken before it binds is retried with fresh arguments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devstack.procs import PORT_CLASH_RETRIES, ComponentError, ManagedProcess

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


# Exits as a server does whose port was taken, unless its first argument says "free".
_BINDS = (
    "import sys, time\n"
    "if sys.argv[1] != 'free':\n"
    "    print('listen tcp 127.0.0.1:4000: bind: address already in use', flush=True)\n"
    "    sys.exit(1)\n"
    "print('serving', flush=True)\n"
    "time.sleep(30)\n"
)


def test_a_port_taken_before_the_process_binds_it_is_retried_with_fresh_arguments(
    tmp_path: Path,
) -> None:
    log = tmp_path / "binds.log"
    fresh = iter(["taken", "free"])
    tried: list[str] = []

    def argv() -> list[str]:
        tried.append(next(fresh))
        return [sys.executable, "-c", _BINDS, tried[-1]]

    proc = ManagedProcess(
        "binds",
        [sys.executable, "-c", _BINDS, "taken"],
        log,
        ready=lambda: "serving" in log.read_text(),
        fresh_argv=argv,
    )
    proc.start(timeout=20)
    try:
        assert proc.running()
        assert tried == ["taken", "free"]
    finally:
        proc.stop(grace=1)


def test_a_port_clash_that_persists_fails_after_a_few_attempts_with_the_log(
    tmp_path: Path,
) -> None:
    log = tmp_path / "binds.log"
    calls: list[int] = []

    def argv() -> list[str]:
        calls.append(1)
        return [sys.executable, "-c", _BINDS, "taken"]

    proc = ManagedProcess("binds", argv(), log, ready=lambda: False, fresh_argv=argv)
    with pytest.raises(ComponentError, match="binds exited with code 1 during start") as failed:
        proc.start(timeout=20)

    assert len(calls) == 1 + PORT_CLASH_RETRIES
    assert "address already in use" in str(failed.value)


def test_a_process_without_fresh_arguments_fails_on_the_first_clash(tmp_path: Path) -> None:
    log = tmp_path / "binds.log"
    proc = ManagedProcess(
        "binds", [sys.executable, "-c", _BINDS, "taken"], log, ready=lambda: False
    )

    with pytest.raises(ComponentError, match="address already in use"):
        proc.start(timeout=20)
    assert log.read_text().count("address already in use") == 1
