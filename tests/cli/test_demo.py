"""`starter.py demo` from start to finish, as a person would run it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from orchestrator.components import PROJECT_ROOT
from tests.devstack.helpers import descendants, still_alive

pytestmark = [pytest.mark.slow]

DEMO_TIMEOUT = 150


def summary_rows(output: str) -> dict[str, list[str]]:
    """The summary table's rows by server: server, state, plan, lived, deleted, billed, cost."""
    table = output[output.index("summary") :]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and re.fullmatch(r"demo-\d+", cells[0]):
            rows[cells[0]] = cells
    return rows


def test_the_demo_terminates_every_server_and_leaves_no_process_behind():
    proc = subprocess.Popen(
        [sys.executable, "starter.py", "demo"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    seen: dict[int, float] = {}
    deadline = time.monotonic() + DEMO_TIMEOUT
    while proc.poll() is None:
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
            pytest.fail(f"the demo took over {DEMO_TIMEOUT} s:\n{''.join(lines)}")
        seen.update(descendants(proc.pid))
        time.sleep(0.2)
    reader.join(10)
    output = "".join(lines)

    assert proc.returncode == 0, output
    assert "every server TERMINATED" in output
    rows = summary_rows(output)
    assert {name: row[1] for name, row in rows.items()} == {
        "demo-1": "TERMINATED",
        "demo-2": "TERMINATED",
        "demo-3": "TERMINATED",
    }
    # Two jobs end early (one period each); demo-3's runs across its first boundary.
    assert {name: int(row[5]) for name, row in rows.items()} == {
        "demo-1": 1,
        "demo-2": 1,
        "demo-3": 2,
    }
    assert "matches the workflows' bill" in output
    # The stack runs on free ports: the URLs printed are the ones it uses.
    ui = re.search(r"^Temporal UI +(http://127\.0\.0\.1:\d+)$", output, re.M)
    assert ui is not None, output
    assert f"watch it live: {ui[1]}/namespaces/" in output
    assert f"web UI: {ui[1]}/namespaces/" in output
    assert seen, "the demo started no stack"
    assert still_alive(seen) == []
