"""Folders hold tests by the module under test; `integration` marks every test that
talks to a real component, whichever folder it is in, so `-m "not integration"`
leaves the fast ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def collected(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr
    return {line for line in done.stdout.splitlines() if "::" in line}


def test_tests_that_use_a_real_component_are_marked_integration_wherever_they_are() -> None:
    files = [
        "tests/core/test_billing.py",  # pure
        "tests/leases/test_store.py",  # MongoDB through the mongo_db fixture, no marker
        "tests/workflows/test_server_replay.py",  # histories, no server
    ]

    fast = collected("-m", "not integration", *files)
    real = collected("-m", "integration", *files)

    def files_of(ids: set[str]) -> set[str]:
        return {node.split("::")[0] for node in ids}

    store_test = "tests/leases/test_store.py::test_second_owner_is_denied_while_the_lease_is_live"
    assert store_test in real and store_test not in fast
    assert files_of(real) == {"tests/leases/test_store.py"}
    assert {"tests/core/test_billing.py", "tests/workflows/test_server_replay.py"} <= files_of(fast)
    assert not fast & real
