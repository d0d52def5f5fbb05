"""Shared pieces of the devstack tests: options on free ports, reading a child's output
as it arrives, and finding processes a stack may have left behind."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

from devstack.components import PROJECT_ROOT
from devstack.procs import free_port, venv_bin
from devstack.stack import DevStackOptions

HAVE_EMULATOR = (PROJECT_ROOT / "emulator" / "__main__.py").exists()
NO_EMULATOR_REASON = "emulator/__main__.py does not exist yet, so the Vultr emulator cannot start"
HAVE_WORKER = (PROJECT_ROOT / "worker.py").exists()
NO_WORKER_REASON = "worker.py does not exist yet, so the stack cannot start a worker"

PORT_FIELDS = (
    "temporal_port",
    "ui_port",
    "mongo_port",
    "emulator_port",
    "hetzner_port",
    "digitalocean_port",
    "metrics_port",
)


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def stack_options(data_dir: Path, **overrides: Any) -> DevStackOptions:
    """Options on free ports in `data_dir`, no worker, emulator when it exists."""
    values: dict[str, Any] = dict(
        zip(PORT_FIELDS, distinct_free_ports(len(PORT_FIELDS)), strict=True)
    )
    values.update(
        data_dir=data_dir,
        with_worker=False,
        use_emulator=HAVE_EMULATOR,
        emulator_boot_seconds=2,
        billing_period_seconds=120,
        terminate_before_seconds=10,
        start_timeout_seconds=25,
    )
    values.update(overrides)
    return DevStackOptions(**values)


def descendants(pid: int | None = None) -> dict[int, float]:
    """pid -> create_time of every process below `pid` (default: this one)."""
    try:
        parent = psutil.Process(pid) if pid is not None else psutil.Process()
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return {}
    found = {}
    for child in children:
        try:
            found[child.pid] = child.create_time()
        except psutil.NoSuchProcess:
            pass
    return found


def still_alive(processes: dict[int, float]) -> list[str]:
    """Those of `processes` (pid -> create_time) that still exist, as 'pid: cmdline'."""
    alive = []
    for pid, created in processes.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid}: {' '.join(proc.cmdline())}")
        except psutil.NoSuchProcess:
            pass
    return alive


def processes_mentioning(
    data_dir: Path, ports: Iterable[int], created_before: float | None = None
) -> list[str]:
    """Processes whose command line names `data_dir` or passes one of `ports` to a
    `--...port` flag. `created_before` ignores processes started later (by other tests
    that may have been handed a port this stack gave back)."""
    wanted = {str(p) for p in ports}
    marker = str(data_dir)
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "create_time", "status"]):
        info = proc.info
        argv: list[str] = info["cmdline"] or []
        if info["pid"] == me or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if created_before is not None and info["create_time"] > created_before:
            continue
        names_dir = any(marker in arg for arg in argv)
        passes_port = any(
            flag.startswith("--") and flag.endswith("port") and value in wanted
            for flag, value in zip(argv, argv[1:], strict=False)
        )
        if names_dir or passes_port:
            found.append(f"{info['pid']}: {' '.join(argv)}")
    return found


def ports_of(options: DevStackOptions) -> list[int]:
    return [int(getattr(options, name)) for name in PORT_FIELDS]


def custom_search_attributes(address: str, namespace: str = "default") -> dict[str, str]:
    result = subprocess.run(
        [venv_bin("temporal"), "operator", "search-attribute", "list"]
        + ["--address", address, "--namespace", namespace, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=15,
        check=True,
    )
    return dict(json.loads(result.stdout).get("customAttributes") or {})


class ChildOutput:
    """Collects a child's stdout as it arrives, to wait for a given text."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._proc = proc
        self._fd = proc.stdout.fileno()
        self.text = ""

    def _pump(self, wait: float) -> bool:
        ready, _, _ = select.select([self._fd], [], [], wait)
        if not ready:
            return True
        chunk = os.read(self._fd, 65536)
        self.text += chunk.decode(errors="replace")
        return bool(chunk)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} did not appear within {timeout} s; got:\n{self.text}"
                )
            if not self._pump(0.1) and self._proc.poll() is not None:
                raise AssertionError(f"child exited before {text!r}; got:\n{self.text}")

    def drain(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._pump(0.1):
            if self._proc.poll() is not None:
                self._pump(0)
                break
        return self.text
