"""Throughput and latency of the Vultr emulator as a real process.

Starts `python -m emulator` with the rate limit off, then for a fixed time each
drives `POST /v2/instances` and `GET /v2/instances/{id}` with concurrent
httpx.AsyncClient requests, and prints requests/second and p50/p99 latency.
Results also go to bench/results/emulator_throughput-<UTC time>.json.

    .venv/bin/python bench/emulator_throughput.py [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from devstack.components import emulator_process  # noqa: E402
from devstack.procs import free_port, interrupted_by_termination  # noqa: E402

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
CREATE_BODY = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284, "label": "bench"}
HEADERS = {"Authorization": "Bearer bench-token"}


@dataclass
class PhaseResult:
    route: str
    seconds: float
    concurrency: int
    requests: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def _percentile(sorted_ms: list[float], fraction: float) -> float:
    if not sorted_ms:
        return float("nan")
    index = min(len(sorted_ms) - 1, round(fraction * (len(sorted_ms) - 1)))
    return sorted_ms[index]


async def _drive(
    route: str,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    client: httpx.AsyncClient,
    seconds: float,
    concurrency: int,
    expected_status: int,
    on_response: Callable[[httpx.Response], None] | None = None,
) -> PhaseResult:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await request(client)
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != expected_status:
                errors += 1
            elif on_response is not None:
                on_response(response)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return PhaseResult(
        route=route,
        seconds=round(elapsed, 3),
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        requests_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(ordered), 2) if ordered else float("nan"),
        p99_ms=round(_percentile(ordered, 0.99), 2),
        max_ms=round(ordered[-1], 2) if ordered else float("nan"),
    )


async def run(base: str, seconds: float, concurrency: int) -> list[PhaseResult]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"{base}/v2", headers=HEADERS, limits=limits, timeout=30
    ) as client:
        ids: list[str] = []

        async def create(c: httpx.AsyncClient) -> httpx.Response:
            return await c.post("/instances", json=CREATE_BODY)

        created = await _drive(
            "POST /v2/instances", create, client, seconds, concurrency, 202,
            on_response=lambda r: ids.append(r.json()["instance"]["id"]),
        )  # fmt: skip
        if not ids:
            raise SystemExit("no instance was created; see the emulator log")
        cycle = itertools.cycle(ids)

        async def get(c: httpx.AsyncClient) -> httpx.Response:
            return await c.get(f"/instances/{next(cycle)}")

        fetched = await _drive(
            "GET /v2/instances/{instance-id}", get, client, seconds, concurrency, 200
        )
    return [created, fetched]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    args = parser.parse_args()

    port = free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="emulator-bench-"))
    process = emulator_process(port, log_dir / "emulator.log", boot_seconds=0, rate_limit=0, seed=1)
    process.start(timeout=30)
    try:
        with interrupted_by_termination():
            results = asyncio.run(run(f"http://127.0.0.1:{port}", args.seconds, args.concurrency))
    finally:
        process.stop()

    for r in results:
        print(
            f"{r.route:34} {r.requests_per_second:8.1f} req/s  p50 {r.p50_ms:6.2f} ms  "
            f"p99 {r.p99_ms:6.2f} ms  ({r.requests} requests, {r.errors} errors, "
            f"{r.concurrency} concurrent, {r.seconds:.1f} s)"
        )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"emulator_throughput-{stamp}.json"
    report = {
        "benchmark": "emulator_throughput",
        "time": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "note": "client and emulator share the machine's CPUs",
        "results": [asdict(r) for r in results],
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
