"""Child processes for the local stack: start, wait until healthy, stop without leftovers.

Used by the devstack (`starter.py dev`) and by the test fixtures, so both run the
components the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

__all__ = [
    "ComponentError",
    "ManagedProcess",
    "PortInUseError",
    "StartCancelled",
    "free_port",
    "interrupted_by_termination",
    "port_in_use",
    "tcp_ready",
    "venv_bin",
]


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def interrupted_by_termination() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise KeyboardInterrupt as Ctrl-C does, so that the
    `finally` blocks stop what was started: the children run in sessions of their own,
    and `timeout`, `kill` or a closed terminal would otherwise leave them running."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = {
        sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ComponentError(RuntimeError):
    """A local component failed to start or become healthy."""


class PortInUseError(ComponentError):
    def __init__(self, component: str, host: str, port: int, variable: str | None = None) -> None:
        choose = (
            f"set {variable} to another port (0: any free one)"
            if variable
            else ("choose another port")
        )
        super().__init__(
            f"port {port} on {host} is already in use, so the {component} cannot start there; "
            f"stop whatever holds it or {choose}"
        )
        self.component = component
        self.port = port
        self.variable = variable


class StartCancelled(ComponentError):
    """Start was abandoned because a stop was requested while waiting for health."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def tcp_ready(host: str, port: int) -> Callable[[], bool]:
    return lambda: port_in_use(host, port)


def venv_bin(name: str) -> str:
    """Path of an executable installed next to this interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    return name


# What a Go or Python server prints when its port was taken.
PORT_CLASH = "address already in use"
PORT_CLASH_RETRIES = 3


class _PortClash(Exception):
    """The process exited during start because a port it was given was taken."""


@dataclass
class ManagedProcess:
    """One component as a child process in its own process group, logging to a file."""

    name: str
    argv: Sequence[str]
    log_path: Path
    ready: Callable[[], bool]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    # New arguments (fresh `free_port()`s) for when the process exits during start
    # because a port picked for it was taken in between; tried up to PORT_CLASH_RETRIES.
    fresh_argv: Callable[[], Sequence[str]] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, timeout: float = 30.0, cancel: threading.Event | None = None) -> None:
        """Spawn and wait until `ready()`; if `cancel` is set meanwhile, stop and raise
        StartCancelled (lets a signal handler interrupt a start without raising in it)."""
        for attempt in range(PORT_CLASH_RETRIES + 1):
            try:
                self._start_once(timeout, cancel)
                return
            except _PortClash:
                if self.fresh_argv is None or attempt == PORT_CLASH_RETRIES:
                    raise ComponentError(self._exited_message()) from None
                self.argv = list(self.fresh_argv())

    def _exited_message(self) -> str:
        code = self.process.returncode if self.process else None
        return (
            f"{self.name} exited with code {code} during start; see {self.log_path}:\n{self.tail()}"
        )

    def _start_once(self, timeout: float, cancel: threading.Event | None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        began_at = log.tell()  # this attempt's output starts here
        env = {**os.environ, **(self.env or {})}
        # Output goes to a log file: no colour codes (NO_COLOR is honoured by the Temporal
        # SDK core's logger, the Temporal CLI and rich; the FORCE_* variables would win).
        for forcing in ("FORCE_COLOR", "CLICOLOR_FORCE", "PY_COLORS"):
            env.pop(forcing, None)
        env["NO_COLOR"] = "1"
        self.process = subprocess.Popen(
            list(self.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.cwd,
            start_new_session=True,  # own process group: stop() reaches its children too
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                self.stop()
                raise StartCancelled(f"start of the {self.name} cancelled")
            if self.process.poll() is not None:
                if PORT_CLASH in self._output_since(began_at):
                    raise _PortClash
                raise ComponentError(self._exited_message())
            try:
                if self.ready():
                    return
            except Exception:  # noqa: BLE001 - a health probe that raises means "not yet"
                pass
            time.sleep(0.1)
        self.stop()
        raise ComponentError(
            f"{self.name} did not become healthy within {timeout:.0f}s; see {self.log_path}:\n"
            f"{self.tail()}"
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after `grace` seconds."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Children may outlive the leader; the group id is the leader's pid.
        self._signal_group(signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _output_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
