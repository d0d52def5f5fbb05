"""The emulator as a real HTTP server in its own process (the Vultr face unless a
`provider` is named)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.components import emulator_process
from devstack.procs import ManagedProcess, free_port

TEST_API_KEY = "test-key-not-a-secret"
# The one key `one_key_emulator` accepts (an account with one real key).
ONE_KEY = "the-only-accepted-key"


# Each face's API prefix.
API_PREFIX = {"vultr": "/v2", "hetzner": "/v1", "digitalocean": "/v2"}


@dataclass
class RunningEmulator:
    process: ManagedProcess
    base: str  # http://127.0.0.1:PORT
    provider: str = "vultr"

    @property
    def api_url(self) -> str:
        return f"{self.base}{API_PREFIX[self.provider]}"

    def admin(self, method: str, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        response = httpx.request(method, f"{self.base}/admin{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def reset(self) -> None:
        self.admin("POST", "/reset")


def create_vultr_instance(emulator: RunningEmulator, label: str, tags: list[str]) -> str:
    """An instance made at the Vultr face outside any workflow; its id."""
    response = httpx.post(
        f"{emulator.api_url}/instances",
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        json={"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284, "label": label, "tags": tags},
    )
    response.raise_for_status()
    return response.json()["instance"]["id"]


def start_emulator(log_dir: Path, provider: str = "vultr", **options) -> RunningEmulator:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = emulator_process(port, log_dir / f"emulator-{port}.log", provider=provider, **options)
    proc.start(timeout=30)
    return RunningEmulator(proc, f"http://127.0.0.1:{port}", provider)


@contextmanager
def running_emulator(
    log_dir: Path, provider: str = "vultr", **options
) -> Iterator[RunningEmulator]:  # type: ignore[no-untyped-def]
    """An emulator for the duration of the block (what every emulator fixture yields)."""
    running = start_emulator(log_dir, provider, **options)
    try:
        yield running
    finally:
        running.process.stop()


# Per face, what keeps its rate limit and delete delay from pacing a test: Vultr a
# 1,000 req/s bucket; Hetzner a large, fast-refilling bucket and 1 s deletes (its
# default is as slow as the real one); DigitalOcean no limit at all.
QUICK_FACE_OPTIONS: dict[str, dict[str, Any]] = {
    "vultr": {"rate_limit": 1000, "extra_args": []},
    "hetzner": {
        "rate_limit": 100_000,
        "extra_args": ["--delete-seconds", "1", "--rate-limit-refill-per-second", "1000"],
    },
    "digitalocean": {"rate_limit": 0, "extra_args": []},
}


@contextmanager
def quick_face(
    log_dir: Path, provider: str = "vultr", *, api_key: str | None = None, **options: Any
) -> Iterator[RunningEmulator]:
    """An emulator of `provider` whose limits never pace a test (QUICK_FACE_OPTIONS);
    with `api_key`, only that key is accepted. `options` (boot_seconds, seed, billing
    period...) go to the emulator as given."""
    face = QUICK_FACE_OPTIONS[provider]
    extra = [*face["extra_args"], *(["--api-key", api_key] if api_key else [])]
    with running_emulator(
        log_dir, provider, rate_limit=face["rate_limit"], extra_args=extra, **options
    ) as running:
        yield running


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A fast emulator shared by the session: 1 s boot, 3600 s billing period."""
    with quick_face(tmp_path_factory.mktemp("emulator-logs"), boot_seconds=1, seed=7) as running:
        yield running


@pytest.fixture(scope="session")
def hetzner_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A fast Hetzner face shared by the session: 1 s boot, 1 s delete, a large bucket."""
    with quick_face(
        tmp_path_factory.mktemp("hetzner-emulator-logs"), "hetzner", boot_seconds=1, seed=7
    ) as running:
        yield running


@pytest.fixture(scope="session")
def one_key_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A Vultr face that accepts ONE_KEY only: any other key is an auth error."""
    with quick_face(
        tmp_path_factory.mktemp("one-key-emulator"), api_key=ONE_KEY, boot_seconds=1
    ) as running:
        yield running


@pytest.fixture
def fresh_hetzner(hetzner_emulator: RunningEmulator) -> RunningEmulator:
    """The session Hetzner face, reset to an empty project with no faults."""
    hetzner_emulator.reset()
    return hetzner_emulator


@pytest.fixture
def fresh_emulator(emulator: RunningEmulator) -> RunningEmulator:
    """The session emulator, reset to an empty account with no faults."""
    emulator.reset()
    return emulator
