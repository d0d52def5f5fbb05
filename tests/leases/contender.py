"""A lease contender in its own process, for the multi-process tests.

python -m tests.leases.contender contend URI DB RESOURCE OWNER LIMIT HOLDS
    takes the lease HOLDS times; prints one JSON Hold per line
python -m tests.leases.contender hold URI DB RESOURCE OWNER TTL_MS
    takes the lease once, prints it as JSON, then sleeps until killed
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from datetime import timedelta

from pymongo import AsyncMongoClient

from leases import LeaseStore
from tests.leases.support import ms, server_now

TTL = timedelta(seconds=10)


async def contend(
    uri: str, db_name: str, resource: str, owner: str, limit: int, holds: int
) -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    store = LeaseStore(client[db_name])
    done = 0
    while done < holds:
        lease = await store.acquire(resource, owner, TTL, limit)
        if lease is None:
            await asyncio.sleep(random.uniform(0, 0.003))
            continue
        start = await server_now(store.collection.database)
        await asyncio.sleep(random.uniform(0, 0.003))
        end = await server_now(store.collection.database)
        if end >= lease.expires_at:
            raise SystemExit(f"{owner} overran its lease; raise TTL for this test")
        hold = {"owner": owner, "token": lease.token, "start_ms": ms(start), "end_ms": ms(end)}
        print(json.dumps(hold), flush=True)
        if not await store.release(lease):
            raise SystemExit(f"{owner} lost a lease it held")
        done += 1
    await client.close()


async def hold(uri: str, db_name: str, resource: str, owner: str, ttl_ms: int) -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    store = LeaseStore(client[db_name])
    lease = await store.acquire(resource, owner, timedelta(milliseconds=ttl_ms))
    print(lease.model_dump_json() if lease else "null", flush=True)
    await asyncio.sleep(3600)


def main(argv: list[str]) -> None:
    mode, uri, db_name, resource, owner, *rest = argv
    if mode == "contend":
        asyncio.run(contend(uri, db_name, resource, owner, int(rest[0]), int(rest[1])))
    elif mode == "hold":
        asyncio.run(hold(uri, db_name, resource, owner, int(rest[0])))
    else:
        raise SystemExit(f"unknown mode {mode!r}: use contend or hold")


if __name__ == "__main__":
    main(sys.argv[1:])
