"""Lease store benchmark: latency and throughput against a bare findAndModify, and a
count of double grants under contention.

    .venv/bin/python bench/leases.py                       # full size
    .venv/bin/python bench/leases.py --acquisitions 5000   # quick run
    .venv/bin/python bench/leases.py --holders-only        # one document vs slot documents

First, the quota-style semaphore at 10, 1,000 and 2,000 live holders: acquire p50/p99
of the former one-document design (a bench-local copy in bench/legacy_leases) beside
the slot documents now in leases, in the same run on the same server.

Starts an embedded SecantusDB (on-disk, in a temporary directory) unless MONGO_URI is
set. For each client count, bare `find_one_and_update` rounds and lease acquire+release
rounds alternate on the same server, so both see the same load and drift. Then many
clients contend for one lease and one semaphore; every grant is checked against the
holders this process already has (exact: all holders live in this event loop), and no
token may repeat. Prints a table and writes JSON to bench/results/.

SecantusDB 0.7.0b3 on its own scans every retryable-write record it keeps (30
minutes' worth) on each write, and sorts them all once there are more than 10,000, so
its throughput falls within a few thousand writes; `mongo_process` starts it through
devstack/secantusd.py, which does not (bench/embedded_writes.py). --restart-every N
still restarts the embedded server (same port, same data) after every N writes,
between rounds, with no lease held; against MONGO_URI nothing is restarted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.legacy_leases import LeaseStore as ArrayLeaseStore  # noqa: E402
from devstack.components import mongo_process  # noqa: E402
from devstack.procs import free_port, interrupted_by_termination  # noqa: E402
from leases import DEFAULT_WRITE_CONCERN, LeaseStore  # noqa: E402

TTL = timedelta(seconds=60)  # longer than any hold here: expiry is not what is measured
DB = "bench_leases"


class Server:
    """The server under test; the embedded one restarts once `budget` writes have run."""

    def __init__(self, uri: str | None, storage: Path | str, log: Path, budget: int) -> None:
        self.proc = None
        self.budget = budget
        self.writes = 0
        self.restarts = 0
        if uri:
            self.uri = uri
            return
        port = free_port()
        self.proc = mongo_process(port, storage, log)
        self.proc.start()
        self.uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"

    async def before(self, writes: int) -> None:
        """Call with no client open: restarts first if `writes` more would pass the budget."""
        if self.proc is not None and self.budget and self.writes + writes > self.budget:
            await asyncio.to_thread(self.proc.stop)
            await asyncio.to_thread(self.proc.start)
            self.writes = 0
            self.restarts += 1
        self.writes += writes

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


async def open_clients(uri: str, count: int) -> list[AsyncMongoClient[Any]]:
    clients: list[AsyncMongoClient[Any]] = [
        AsyncMongoClient(uri, tz_aware=True) for _ in range(count)
    ]
    await asyncio.gather(*(c.admin.command("ping") for c in clients))  # connect outside timing
    return clients


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # ms


@dataclass
class Level:
    clients: int
    bare: list[float] = field(default_factory=list)
    acquire: list[float] = field(default_factory=list)
    release: list[float] = field(default_factory=list)
    pair: list[float] = field(default_factory=list)
    bare_seconds: float = 0.0
    pair_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        bare50, bare99 = pct(self.bare, 0.5), pct(self.bare, 0.99)
        out: dict[str, Any] = {"clients": self.clients, "samples": len(self.pair)}
        out["bare_p50_ms"], out["bare_p99_ms"] = bare50, bare99
        for name, xs in (("acquire", self.acquire), ("release", self.release), ("pair", self.pair)):
            p50, p99 = pct(xs, 0.5), pct(xs, 0.99)
            out[f"{name}_p50_ms"], out[f"{name}_p99_ms"] = p50, p99
            out[f"{name}_p50_ratio"], out[f"{name}_p99_ratio"] = p50 / bare50, p99 / bare99
        out["bare_ops_per_s"] = len(self.bare) / self.bare_seconds
        out["pairs_per_s"] = len(self.pair) / self.pair_seconds
        out["throughput_ratio"] = out["pairs_per_s"] / out["bare_ops_per_s"]
        return out


async def measure_level(server: Server, clients: int, samples: int, rounds: int) -> Level:
    level = Level(clients)
    per_round = max(1, samples // (rounds * clients))

    async def bare_worker(coll: Any, i: int) -> None:
        for _ in range(per_round):
            t = time.perf_counter()
            await coll.find_one_and_update(
                {"_id": f"c{clients}-{i}"},
                {"$inc": {"n": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            level.bare.append(time.perf_counter() - t)

    async def lease_worker(store: LeaseStore, i: int) -> None:
        for _ in range(per_round):
            t0 = time.perf_counter()
            lease = await store.acquire(f"c{clients}-{i}", f"owner-{i}", TTL)
            t1 = time.perf_counter()
            assert lease is not None, "an uncontended acquire was denied"
            await store.release(lease)
            t2 = time.perf_counter()
            level.acquire.append(t1 - t0)
            level.release.append(t2 - t1)
            level.pair.append(t2 - t0)

    # Round 0 warms up documents and connections and is not counted; then bare and
    # lease rounds alternate.
    for round_ in range(rounds + 1):
        await server.before(3 * per_round * clients)
        mongo = await open_clients(server.uri, clients)
        try:
            stores = [LeaseStore(m[DB], "bench_leases") for m in mongo]
            bares = [
                m[DB].get_collection("bench_bare", write_concern=DEFAULT_WRITE_CONCERN)
                for m in mongo
            ]
            t = time.perf_counter()
            await asyncio.gather(*(bare_worker(bares[i], i) for i in range(clients)))
            bare_seconds = time.perf_counter() - t
            t = time.perf_counter()
            await asyncio.gather(*(lease_worker(stores[i], i) for i in range(clients)))
            pair_seconds = time.perf_counter() - t
        finally:
            await asyncio.gather(*(m.close() for m in mongo))
        if round_ == 0:
            for samples_list in (level.bare, level.acquire, level.release, level.pair):
                samples_list.clear()
        else:
            level.bare_seconds += bare_seconds
            level.pair_seconds += pair_seconds
    return level


@dataclass
class Contention:
    resource: str
    limit: int
    clients: int
    attempts: int = 0
    grants: int = 0
    double_grants: int = 0
    duplicate_tokens: int = 0
    seconds: float = 0.0


async def contend(
    server: Server, resource: str, limit: int, clients: int, attempts: int, chunk: int
) -> Contention:
    result = Contention(resource, limit, clients)
    holding: set[str] = set()
    tokens: set[int] = set()

    async def worker(store: LeaseStore, owner: str, until: int) -> None:
        while result.attempts < until:
            result.attempts += 1
            lease = await store.acquire(resource, owner, TTL, limit)
            if lease is None:
                continue
            result.grants += 1
            holding.add(owner)
            if len(holding) > limit:
                result.double_grants += 1
            if lease.token in tokens:
                result.duplicate_tokens += 1
            tokens.add(lease.token)
            await asyncio.sleep(0)  # let the others run while this one holds
            holding.discard(owner)  # before the release is sent: no false alarms
            if not await store.release(lease):
                raise RuntimeError(f"{owner} lost a lease it held: TTL too short")

    while result.attempts < attempts:
        until = min(attempts, result.attempts + chunk)
        # Every attempt writes at most twice (acquire, release), most once.
        await server.before(2 * (until - result.attempts))
        mongo = await open_clients(server.uri, clients)
        try:
            stores = [LeaseStore(m[DB], "bench_contention") for m in mongo]
            t = time.perf_counter()
            await asyncio.gather(*(worker(s, f"owner-{i}", until) for i, s in enumerate(stores)))
            result.seconds += time.perf_counter() - t
        finally:
            await asyncio.gather(*(m.close() for m in mongo))
    return result


@dataclass
class HolderLevel:
    design: str
    holders: int
    acquire: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "design": self.design,
            "holders": self.holders,
            "samples": len(self.acquire),
            "acquire_p50_ms": pct(self.acquire, 0.5),
            "acquire_p99_ms": pct(self.acquire, 0.99),
        }


# The former one-document semaphore (a bench-local copy) against the slot documents.
DESIGNS: dict[str, Any] = {"one document": ArrayLeaseStore, "slot documents": LeaseStore}


async def measure_holders(server: Server, design: str, holders: int, samples: int) -> HolderLevel:
    """Acquire latency on a semaphore already holding `holders` live holders: each
    sample takes a slot for a new owner and gives it back, so the count stays put."""
    level = HolderLevel(design, holders)
    resource, limit = f"holders-{holders}", holders + 10
    await server.before(holders + 2 * samples)
    (mongo,) = await open_clients(server.uri, 1)
    try:
        coll = f"bench_holders_{design.split()[0]}"
        if design == "slot documents":
            # Creating 2,000 slots at once outlasts the default 5 s bound on SecantusDB.
            store = LeaseStore(mongo[DB], coll, op_timeout=timedelta(seconds=120))
        else:
            store = DESIGNS[design](mongo[DB], coll)
        await store.ensure_indexes()
        await mongo[DB][coll].delete_many({})
        if design == "slot documents":
            await store.set_limit(resource, limit)  # once, not by 50 racing first callers
        # Fill in parallel batches: the one-document design pays O(holders) per fill too.
        for start in range(0, holders, 50):
            batch = range(start, min(holders, start + 50))
            await asyncio.gather(
                *(store.acquire(resource, f"holder-{i}", TTL, limit) for i in batch)
            )
        for i in range(samples):
            t = time.perf_counter()
            lease = await store.acquire(resource, f"sample-{i}", TTL, limit)
            level.acquire.append(time.perf_counter() - t)
            assert lease is not None, "the bench semaphore was full"
            await store.release(lease)
    finally:
        await mongo.close()
    return level


def print_holders_table(levels: list[dict[str, Any]]) -> None:
    designs = list(DESIGNS)
    head = f"{'holders':>7} | " + " | ".join(f"{d + ' p50/p99 ms':>26}" for d in designs)
    print(head)
    print("-" * len(head))
    for holders in sorted({lv["holders"] for lv in levels}):
        cells = []
        for d in designs:
            lv = next(x for x in levels if x["holders"] == holders and x["design"] == d)
            cells.append(f"{lv['acquire_p50_ms']:11.2f} / {lv['acquire_p99_ms']:8.2f}".rjust(26))
        print(f"{holders:>7} | " + " | ".join(cells))
    print()


def print_table(levels: list[dict[str, Any]], contention: list[Contention]) -> None:
    head = (
        f"{'clients':>7} | {'bare p50/p99 ms':>15} | {'acquire p50/p99 ms (x bare)':>30} | "
        f"{'release p50/p99 ms (x bare)':>30} | {'acq+rel p50/p99 ms':>18} | "
        f"{'pairs/s (x bare ops/s)':>22}"
    )
    print(head)
    print("-" * len(head))
    for s in levels:
        print(
            f"{s['clients']:>7} | {s['bare_p50_ms']:6.2f} / {s['bare_p99_ms']:6.2f} | "
            f"{s['acquire_p50_ms']:5.2f} / {s['acquire_p99_ms']:6.2f} "
            f"({s['acquire_p50_ratio']:.2f}x/{s['acquire_p99_ratio']:.2f}x) | "
            f"{s['release_p50_ms']:5.2f} / {s['release_p99_ms']:6.2f} "
            f"({s['release_p50_ratio']:.2f}x/{s['release_p99_ratio']:.2f}x) | "
            f"{s['pair_p50_ms']:6.2f} / {s['pair_p99_ms']:7.2f} | "
            f"{s['pairs_per_s']:8.0f} ({s['throughput_ratio']:.2f}x of {s['bare_ops_per_s']:.0f})"
        )
    print()
    for c in contention:
        print(
            f"contention on {c.resource!r} (limit {c.limit}, {c.clients} clients): "
            f"{c.attempts} acquisitions, {c.grants} granted, "
            f"{c.double_grants} double grants, {c.duplicate_tokens} repeated tokens, "
            f"{c.attempts / c.seconds:.0f} acquisitions/s"
        )


async def run(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    holder_levels = []
    for holders in args.holders:
        for design in DESIGNS:
            level = await measure_holders(server, design, holders, args.holder_samples)
            holder_levels.append(level.summary())
            print(f"measured {design} at {holders} holders", file=sys.stderr)
    if args.holders_only:
        print_holders_table(holder_levels)
        return {"holders": holder_levels, "server_restarts": server.restarts}
    levels = []
    for clients in args.clients:
        level = await measure_level(server, clients, args.samples, args.rounds)
        levels.append(level.summary())
        print(f"measured {clients} client(s)", file=sys.stderr)
    contention = []
    share = args.acquisitions // 2
    chunk = max(100, args.restart_every // 2) if server.proc and args.restart_every else share
    for resource, limit in (("lease", 1), ("semaphore", 3)):
        contention.append(
            await contend(server, resource, limit, args.contention_clients, share, chunk)
        )
        print(f"contended on {resource}", file=sys.stderr)
    print_holders_table(holder_levels)
    print_table(levels, contention)
    return {
        "holders": holder_levels,
        "levels": levels,
        "contention": [asdict(c) for c in contention],
        "server_restarts": server.restarts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--samples", type=int, default=3000, help="operations per level and kind")
    parser.add_argument("--rounds", type=int, default=10, help="alternations of bare and lease")
    parser.add_argument(
        "--acquisitions",
        type=int,
        default=100_000,
        help="contended acquisitions in all (half on a lease, half on a semaphore of 3)",
    )
    parser.add_argument("--contention-clients", type=int, default=16)
    parser.add_argument(
        "--holders",
        type=int,
        nargs="*",
        default=[10, 1000, 2000],
        help="semaphore sizes at which both designs' acquire latency is measured",
    )
    parser.add_argument("--holder-samples", type=int, default=200)
    parser.add_argument(
        "--holders-only", action="store_true", help="only the one-document/slot comparison"
    )
    parser.add_argument("--memory", action="store_true", help="embedded server without disk")
    parser.add_argument(
        "--restart-every",
        type=int,
        default=0,
        help="writes between restarts of the embedded server (0, the default: never)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-leases-") as tmp:
        storage = ":memory:" if args.memory else Path(tmp) / "data"
        server = Server(
            os.environ.get("MONGO_URI"), storage, Path(tmp) / "mongo.log", args.restart_every
        )
        try:
            with interrupted_by_termination():  # `timeout` stops the server too
                result = asyncio.run(run(args, server))
        finally:
            server.stop()
    result["server"] = (
        "MONGO_URI"
        if os.environ.get("MONGO_URI")
        else ("embedded SecantusDB, " + ("in memory" if args.memory else "on disk"))
    )
    result["write_concern"] = DEFAULT_WRITE_CONCERN.document
    result["args"] = {k: str(v) for k, v in vars(args).items()}
    result["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"leases-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\n{result['server']}; {result['seconds']:.0f} s; wrote {path}")


if __name__ == "__main__":
    main()
