"""How to launch each local component: the embedded MongoDB, the Vultr emulator, the
Temporal dev server and the worker. The devstack and the test fixtures share these."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from devstack.procs import ManagedProcess, free_port, tcp_ready, venv_bin
from workflows.search_attributes import SEARCH_ATTRIBUTES

__all__ = [
    "ONE_PARTITION_PER_QUEUE",
    "SEARCH_ATTRIBUTES",
    "emulator_process",
    "mongo_process",
    "temporal_process",
    "worker_process",
]


PROJECT_ROOT = Path(__file__).resolve().parent.parent
_EMULATOR_NAMES = {"vultr": "Vultr", "hetzner": "Hetzner", "digitalocean": "DigitalOcean"}


def mongo_process(
    port: int,
    storage: Path | str,
    log_path: Path,
    host: str = "127.0.0.1",
    test_commands: bool = False,
    stock: bool = False,
) -> ManagedProcess:
    """SecantusDB speaking the MongoDB wire protocol; `storage` may be ':memory:'.

    Runs through devstack/secantusd.py, which keeps its writes from slowing down as
    retryable-write records pile up; `stock` runs SecantusDB's own entry point instead
    (bench/embedded_writes.py compares the two)."""
    entry = [venv_bin("secantusd-py")] if stock else [sys.executable, "-m", "devstack.secantusd"]
    argv = [*entry, "--host", host, "--port", str(port)]
    argv += ["--storage-path", str(storage), "--log-level", "WARNING"]
    if test_commands:
        argv.append("--enable-test-commands")
    return ManagedProcess(
        "embedded MongoDB", argv, log_path, tcp_ready(host, port), cwd=PROJECT_ROOT
    )


def _http_ok(url: str):  # type: ignore[no-untyped-def]
    def probe() -> bool:
        return httpx.get(url, timeout=0.5).status_code == 200

    return probe


def emulator_process(
    port: int,
    log_path: Path,
    *,
    host: str = "127.0.0.1",
    billing_period_seconds: float = 3600,
    boot_seconds: float = 58,
    rate_limit: int = 30,
    seed: int | None = None,
    state_file: Path | None = None,
    extra_args: list[str] | None = None,
    provider: str = "vultr",
) -> ManagedProcess:
    """One face of the emulator (`provider`) as its own process."""
    argv = [sys.executable, "-m", "emulator", "--provider", provider]
    argv += ["--host", host, "--port", str(port)]
    argv += ["--billing-period-seconds", str(billing_period_seconds)]
    argv += ["--boot-seconds", str(boot_seconds), "--rate-limit", str(rate_limit)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if state_file is not None:
        argv += ["--state-file", str(state_file)]
    argv += extra_args or []
    return ManagedProcess(
        f"{_EMULATOR_NAMES.get(provider, provider)} emulator",
        argv,
        log_path,
        _http_ok(f"http://{host}:{port}/health"),
        cwd=PROJECT_ROOT,
    )


# One partition per task queue: the server splits a queue's activity rate limit
# among its partitions (4 by default), so a provider queue at 1 request/s started
# bursts at once and then waited 4 s, 0.56 activities/s on average
# (bench/queue_rate.py); with one it starts them 1 s apart.
ONE_PARTITION_PER_QUEUE = {
    "matching.numTaskqueueReadPartitions": "1",
    "matching.numTaskqueueWritePartitions": "1",
}


def temporal_process(
    port: int,
    ui_port: int,
    log_path: Path,
    *,
    db_filename: Path | None = None,
    host: str = "127.0.0.1",
    namespace: str = "default",
    headless: bool = False,
    dynamic_config: dict[str, str] | None = None,
) -> ManagedProcess:
    fixed = [venv_bin("temporal"), "server", "start-dev", "--ip", host, "--port", str(port)]
    fixed += ["--namespace", namespace, "--log-level", "warn"]
    if headless:
        fixed.append("--headless")
    else:
        fixed += ["--ui-port", str(ui_port)]
    if db_filename is not None:
        fixed += ["--db-filename", str(db_filename)]
    for name, kind in SEARCH_ATTRIBUTES.items():
        fixed += ["--search-attribute", f"{name}={kind}"]
    for key, value in (ONE_PARTITION_PER_QUEUE | (dynamic_config or {})).items():
        fixed += ["--dynamic-config-value", f"{key}={value}"]

    def argv() -> list[str]:
        # Its HTTP API and metrics ports default to fixed numbers; pick free ones so
        # that several dev servers (tests, benchmarks) can run side by side. Another
        # socket can take one before the server binds it: then it starts again.
        return [*fixed, "--http-port", str(free_port(host)), "--metrics-port", str(free_port(host))]

    return ManagedProcess(
        "Temporal dev server", argv(), log_path, tcp_ready(host, port), fresh_argv=argv
    )


def worker_process(log_path: Path, env: dict[str, str], ready_port: int) -> ManagedProcess:
    """The worker; healthy once its metrics endpoint answers."""
    return ManagedProcess(
        "worker",
        [sys.executable, str(PROJECT_ROOT / "worker.py")],
        log_path,
        tcp_ready("127.0.0.1", ready_port),
        env=env,
        cwd=PROJECT_ROOT,
    )
