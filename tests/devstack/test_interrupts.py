"""SIGTERM and SIGHUP interrupt like Ctrl-C inside `interrupted_by_termination`, so the
code that started the local components runs its cleanup; outside, nothing changes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from devstack.components import PROJECT_ROOT
from devstack.procs import interrupted_by_termination

SCRIPT = textwrap.dedent(
    """
    import time
    from devstack.procs import interrupted_by_termination
    try:
        with interrupted_by_termination():
            print("ready", flush=True)
            time.sleep(60)
    except KeyboardInterrupt:
        print("cleaned up", flush=True)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_termination_signal_runs_the_cleanup(sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out.strip() == "cleaned up"


def test_the_previous_handlers_are_restored():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    with interrupted_by_termination():
        assert signal.getsignal(signal.SIGTERM) != before[signal.SIGTERM]
    assert {sig: signal.getsignal(sig) for sig in before} == before
