"""The Vultr emulator as a real HTTP server in its own process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from orchestrator.components import emulator_process
from orchestrator.procs import ManagedProcess, free_port

TEST_API_KEY = "test-key-not-a-secret"


@dataclass
class RunningEmulator:
    process: ManagedProcess
    base: str  # http://127.0.0.1:PORT

    @property
    def api_url(self) -> str:
        return f"{self.base}/v2"

    def admin(self, method: str, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        response = httpx.request(method, f"{self.base}/admin{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def reset(self) -> None:
        self.admin("POST", "/reset")


def start_emulator(log_dir: Path, **options) -> RunningEmulator:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = emulator_process(port, log_dir / f"emulator-{port}.log", **options)
    proc.start(timeout=30)
    return RunningEmulator(proc, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A fast emulator shared by the session: 1 s boot, 3600 s billing period."""
    running = start_emulator(
        tmp_path_factory.mktemp("emulator-logs"), boot_seconds=1, rate_limit=1000, seed=7
    )
    try:
        yield running
    finally:
        running.process.stop()


@pytest.fixture
def fresh_emulator(emulator: RunningEmulator) -> RunningEmulator:
    """The session emulator, reset to an empty account with no faults."""
    emulator.reset()
    return emulator
