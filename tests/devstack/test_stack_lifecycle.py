"""Starting and stopping: nothing left behind, taken ports refused up front, signals,
components that die, data that survives a restart."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from pymongo import MongoClient

from devstack.components import PROJECT_ROOT
from devstack.procs import PortInUseError, port_in_use, venv_bin
from devstack.stack import DevStack, DevStackOptions, run_devstack
from tests.devstack.helpers import (
    HAVE_WORKER,
    NO_WORKER_REASON,
    ChildOutput,
    descendants,
    ports_of,
    processes_mentioning,
    stack_options,
    still_alive,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket listening on a free port, as another program holding it would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock
    finally:
        sock.close()


def leftovers(options: DevStackOptions, started: dict[int, float], stopped_at: float) -> list[str]:
    return still_alive(started) + processes_mentioning(
        options.data_dir, ports_of(options), created_before=stopped_at
    )


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    options = stack_options(tmp_path)
    before = descendants()
    stack = DevStack(options, out=io.StringIO())
    stack.start()
    started = {pid: t for pid, t in descendants().items() if pid not in before}
    assert len(started) >= 2, "the stack should have started child processes"

    stack.stop()
    stopped_at = time.time()

    assert leftovers(options, started, stopped_at) == []
    for port in ports_of(options):
        assert not port_in_use("127.0.0.1", port), f"port {port} still answers"


def test_a_taken_port_is_named_with_its_component_and_variable_and_nothing_starts(
    tmp_path: Path, listener: socket.socket
) -> None:
    taken = listener.getsockname()[1]
    options = stack_options(tmp_path, mongo_port=taken)
    before = descendants()
    out = io.StringIO()

    with pytest.raises(PortInUseError) as caught:
        DevStack(options, out=out).start()

    assert caught.value.port == taken
    assert f"port {taken}" in str(caught.value)
    assert "MongoDB" in str(caught.value)
    assert "set DEVSTACK_MONGO_PORT to another port" in str(caught.value)
    assert descendants() == before
    assert "starting" not in out.getvalue()
    assert not port_in_use("127.0.0.1", options.temporal_port)


def test_run_devstack_exits_non_zero_on_a_taken_port(
    tmp_path: Path, listener: socket.socket
) -> None:
    taken = listener.getsockname()[1]
    options = stack_options(tmp_path, ui_port=taken)
    before = descendants()
    err = io.StringIO()

    code = run_devstack(options, out=io.StringIO(), err=err)

    assert code != 0
    assert f"port {taken}" in err.getvalue()
    assert "Temporal dev server" in err.getvalue()
    assert "DEVSTACK_UI_PORT" in err.getvalue()
    assert descendants() == before


def _run_in_child(options: DevStackOptions) -> subprocess.Popen[bytes]:
    code = (
        "import sys\n"
        "from devstack.stack import DevStackOptions, run_devstack\n"
        f"options = DevStackOptions.model_validate_json({options.model_dump_json()!r})\n"
        "sys.exit(run_devstack(options))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_sigterm_stops_the_stack_and_every_child(tmp_path: Path) -> None:
    options = stack_options(tmp_path)
    child = _run_in_child(options)
    output = ChildOutput(child)
    try:
        output.wait_for("press Ctrl-C to stop", timeout=30)
        started = descendants(child.pid)
        assert len(started) >= 2, "the stack should have started child processes"

        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=30)
        stopped_at = time.time()
    finally:
        if child.poll() is None:
            child.kill()

    assert code == 0, output.drain(1)
    assert leftovers(options, started, stopped_at) == []
    assert "received SIGTERM; stopping" in output.drain(1)


def test_sigterm_while_starting_stops_what_was_already_started(tmp_path: Path) -> None:
    options = stack_options(tmp_path)
    child = _run_in_child(options)
    output = ChildOutput(child)
    try:
        output.wait_for("starting embedded MongoDB ... ", timeout=30)
        started = descendants(child.pid)
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=30)
        stopped_at = time.time()
    finally:
        if child.poll() is None:
            child.kill()

    text = output.drain(1)
    assert code == 0, text
    assert "press Ctrl-C to stop" not in text
    assert "stopping Temporal dev server ... done" in text
    assert leftovers(options, started, stopped_at) == []


def test_a_component_that_dies_ends_the_watch_with_code_1_naming_it(tmp_path: Path) -> None:
    out = io.StringIO()
    with DevStack(stack_options(tmp_path, use_emulator=False), out=out) as stack:
        mongo = next(p for p in stack.processes if p.name == "embedded MongoDB")
        mongo.kill()

        code = stack.wait(poll_seconds=0.05)

    assert code == 1
    assert "embedded MongoDB exited unexpectedly" in out.getvalue()


def test_data_survives_a_restart_on_the_same_folder(tmp_path: Path) -> None:
    def options() -> DevStackOptions:
        return stack_options(tmp_path, use_emulator=False)

    with DevStack(options(), out=io.StringIO()) as stack:
        client: MongoClient = MongoClient(stack.urls.mongo_uri)
        client.devstack_test.things.insert_one({"_id": "kept"})
        client.close()
        subprocess.run(
            [venv_bin("temporal"), "workflow", "start", "--address", stack.urls.temporal_address]
            + ["--type", "Anything", "--task-queue", "nobody", "--workflow-id", "kept"],
            check=True,
            capture_output=True,
            timeout=15,
        )

    with DevStack(options(), out=io.StringIO()) as stack:
        client = MongoClient(stack.urls.mongo_uri)
        found = client.devstack_test.things.find_one({"_id": "kept"})
        client.close()
        described = subprocess.run(
            [venv_bin("temporal"), "workflow", "describe", "--address", stack.urls.temporal_address]
            + ["--workflow-id", "kept"],
            capture_output=True,
            text=True,
            timeout=15,
        )

    assert found == {"_id": "kept"}
    assert described.returncode == 0, described.stderr


def test_without_the_emulator_the_real_vultr_api_is_announced_and_no_key_handed_out(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    options = stack_options(tmp_path, use_emulator=False)
    with DevStack(options, out=out) as stack:
        names = [p.name for p in stack.processes]
        env = stack.settings_env()

    assert "Vultr emulator" not in names
    assert not port_in_use("127.0.0.1", options.emulator_port)
    assert "Vultr API        https://api.vultr.com/v2" in out.getvalue()
    assert "VULTR_API_KEY" not in env
    assert env["VULTR_API_URL"] == "https://api.vultr.com/v2"


@pytest.mark.skipif(not HAVE_WORKER, reason=NO_WORKER_REASON)
def test_the_worker_starts_with_the_stack_and_gets_its_settings_by_environment(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    options = stack_options(tmp_path, with_worker=True)
    with DevStack(options, out=out) as stack:
        worker = next(p for p in stack.processes if p.name == "worker")
        metrics = httpx.get(f"http://127.0.0.1:{options.metrics_port}/metrics", timeout=10)
        assert worker.pid is not None
        environ = psutil.Process(worker.pid).environ()
        expected = stack.settings_env()

    assert metrics.status_code == 200
    assert f"Worker metrics   http://127.0.0.1:{options.metrics_port}/metrics" in out.getvalue()
    for name, value in expected.items():
        assert environ.get(name) == value, name
    assert environ.get("METRICS_PORT") == str(options.metrics_port)
