"""Embedded MongoDB write throughput as retryable-write records pile up, and
findAndModify latency as a collection grows: SecantusDB's own entry point beside the
project's (devstack/secantusd.py), in one run.

    .venv/bin/python bench/embedded_writes.py                # 11,000 writes each
    .venv/bin/python bench/embedded_writes.py --writes 4000  # quick run
    .venv/bin/python bench/embedded_writes.py --find-and-modify [--sizes 100,1000,5000]

Two fresh on-disk servers in a temporary directory, started by `mongo_process` as
the dev stack and the tests start it: `stock` (SecantusDB's `secantusd-py`) and
`project` (devstack/secantusd.py). Each takes --writes sequential retryable writes
from one AsyncMongoClient, alternating `find_one_and_update` and `update_one` with
`$inc` on a few documents; every one leaves a retryable-write record, kept 30 minutes,
at most 10,000. The servers take turns, --window writes each, so both see the same
machine load. Prints writes/s per window side by side and writes JSON to
bench/results/.

--find-and-modify: each server's collection is filled to each of --sizes documents
with lease-slot-shaped `_id`s ({res, i}) and an indexed `owner`; then, taking turns,
--samples findAndModify calls by `owner` (an index lookup) and by `_id`; prints
p50/p99 ms per size side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.components import mongo_process  # noqa: E402
from devstack.procs import ManagedProcess, free_port, interrupted_by_termination  # noqa: E402

VARIANTS = {"stock": True, "project": False}  # name -> mongo_process(stock=...)


async def write_window(coll: Any, first: int, size: int) -> float:
    """Writes/s of `size` retryable writes."""
    started = time.perf_counter()
    for i in range(first, first + size):
        if i % 2:
            await coll.update_one({"_id": i % 8}, {"$inc": {"n": 1}}, upsert=True)
        else:
            await coll.find_one_and_update({"_id": i % 8}, {"$inc": {"n": 1}}, upsert=True)
    return size / (time.perf_counter() - started)


async def measure(uris: dict[str, str], writes: int, window: int) -> dict[str, list[float]]:
    """Each server's windows alternate with the others', so all see the same load."""
    clients: dict[str, AsyncMongoClient[Any]] = {
        name: AsyncMongoClient(uri, retryWrites=True) for name, uri in uris.items()
    }
    try:
        for client in clients.values():
            await client.admin.command("ping")  # connect outside timing
        rates: dict[str, list[float]] = {name: [] for name in uris}
        for first in range(0, writes, window):
            size = min(window, writes - first)
            for name, client in clients.items():
                rates[name].append(await write_window(client.bench.counters, first, size))
            print(f"{first + size} writes", file=sys.stderr)
        return rates
    finally:
        for client in clients.values():
            await client.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def find_and_modify_latency(
    uris: dict[str, str], sizes: list[int], samples: int
) -> list[dict[str, Any]]:
    """p50/p99 ms of findAndModify by an indexed field and by `_id`, per size and server."""
    clients: dict[str, AsyncMongoClient[Any]] = {
        name: AsyncMongoClient(uri, retryWrites=True) for name, uri in uris.items()
    }
    rows: list[dict[str, Any]] = []
    try:
        colls = {name: client.bench.slots for name, client in clients.items()}
        for coll in colls.values():
            await coll.create_index("owner")
        held = 0
        for size in sizes:
            for coll in colls.values():
                docs = [{"_id": {"res": "q", "i": i}, "owner": f"o{i}"} for i in range(held, size)]
                if docs:
                    await coll.insert_many(docs)
            held = max(held, size)
            row: dict[str, Any] = {"docs": size}
            for form in ("owner", "_id"):
                times: dict[str, list[float]] = {name: [] for name in colls}
                for k in range(samples):
                    i = (k * 7919) % size
                    query = {"owner": f"o{i}"} if form == "owner" else {"_id": {"res": "q", "i": i}}
                    for name, coll in colls.items():
                        started = time.perf_counter()
                        await coll.find_one_and_update(query, {"$inc": {"n": 1}})
                        times[name].append((time.perf_counter() - started) * 1000)
                row[form] = {
                    name: {"p50": _percentile(t, 0.5), "p99": _percentile(t, 0.99)}
                    for name, t in times.items()
                }
            rows.append(row)
            print(f"{size} documents", file=sys.stderr)
        return rows
    finally:
        for client in clients.values():
            await client.close()


def print_find_and_modify(rows: list[dict[str, Any]]) -> None:
    print(f"{'docs':>6} {'by':>6} {'stock p50/p99 ms':>18} {'project p50/p99 ms':>20}")
    for row in rows:
        for form in ("owner", "_id"):
            stock, project = row[form]["stock"], row[form]["project"]
            print(
                f"{row['docs']:>6} {form:>6} {stock['p50']:>9.1f}/{stock['p99']:<8.1f}"
                f" {project['p50']:>10.1f}/{project['p99']:<8.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=11_000, help="writes per server")
    parser.add_argument("--window", type=int, default=1000, help="writes per reported rate")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--find-and-modify", action="store_true", help="findAndModify latency by size"
    )
    parser.add_argument("--sizes", default="100,1000,5000", help="collection sizes, ascending")
    parser.add_argument("--samples", type=int, default=200, help="calls per size and form")
    args = parser.parse_args()
    if args.writes < 1 or args.window < 1 or args.samples < 1:
        parser.error("--writes, --window and --samples must be at least 1")
    try:
        sizes = [int(part) for part in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes must be whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or min(sizes) < 1 or sizes != sorted(sizes):
        parser.error(f"--sizes must be ascending and at least 1, not {args.sizes!r}")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-embedded-") as tmp:
        procs: list[ManagedProcess] = []
        uris: dict[str, str] = {}
        try:
            for name, stock in VARIANTS.items():
                port = free_port()
                data, log = Path(tmp) / name, Path(tmp) / f"{name}.log"
                procs.append(mongo_process(port, data, log, stock=stock))
                procs[-1].start()
                uris[name] = f"mongodb://127.0.0.1:{port}/?directConnection=true"
            with interrupted_by_termination():
                if args.find_and_modify:
                    rows = asyncio.run(find_and_modify_latency(uris, sizes, args.samples))
                else:
                    rates = asyncio.run(measure(uris, args.writes, args.window))
        finally:
            for proc in procs:
                proc.stop()

    if args.find_and_modify:
        print_find_and_modify(rows)
        write_json(
            args, {"server": "embedded SecantusDB, on disk", "find_and_modify": rows}, started
        )
        return

    print(f"{'writes':>8} {'stock w/s':>10} {'project w/s':>12}")
    for index, pair in enumerate(zip(rates["stock"], rates["project"], strict=True)):
        upto = min((index + 1) * args.window, args.writes)
        print(f"{upto:>8} {pair[0]:>10.0f} {pair[1]:>12.0f}")
    write_json(
        args,
        {"server": "embedded SecantusDB, on disk", "window": args.window, "writes_per_s": rates},
        started,
    )


def write_json(args: argparse.Namespace, result: dict[str, Any], started: float) -> None:
    result |= {
        "load_average_1m": os.getloadavg()[0],
        "args": {k: str(v) for k, v in vars(args).items()},
        "seconds": time.perf_counter() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"embedded_writes-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\n{result['seconds']:.0f} s; wrote {path}")


if __name__ == "__main__":
    main()
