"""Random interleavings of acquire, renew, release and expiry, checked against a model.

The model is a map owner -> token of live holdings. Expiry is driven explicitly (a renew
to 1 ms, then a short sleep) so that every step has exactly one right answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pymongo import AsyncMongoClient

from leases import Lease, LeaseStore

T = TypeVar("T")
OWNERS = st.sampled_from(["a", "b", "c", "d"])
LONG = timedelta(seconds=60)


class LeaseModel(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    store: LeaseStore

    def __init__(self) -> None:
        super().__init__()
        self.resource = f"model-{uuid.uuid4().hex[:8]}"
        self.limit = 1
        self.live: dict[str, int] = {}
        self.seen: dict[str, list[Lease]] = {}
        self.max_token = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    @initialize(limit=st.integers(min_value=1, max_value=3))
    def choose_limit(self, limit: int) -> None:
        self.limit = limit

    @rule(owner=OWNERS)
    def acquire(self, owner: str) -> None:
        lease = self.run(self.store.acquire(self.resource, owner, LONG, self.limit))
        if owner in self.live:
            assert lease is not None and lease.token == self.live[owner], "retry took a new slot"
        elif len(self.live) < self.limit:
            assert lease is not None, f"denied with {len(self.live)} of {self.limit} held"
            assert lease.token > self.max_token, "fence went backwards"
            self.max_token = lease.token
            self.live[owner] = lease.token
        else:
            assert lease is None, f"granted beyond the limit of {self.limit}"
        if lease is not None:
            self.seen.setdefault(owner, []).append(lease)

    @precondition(lambda self: self.seen)
    @rule(data=st.data())
    def renew(self, data: st.DataObject) -> None:
        owner = data.draw(st.sampled_from(sorted(self.seen)))
        lease = data.draw(st.sampled_from(self.seen[owner]))
        renewed = self.run(self.store.renew(lease, LONG))
        if self.live.get(owner) == lease.token:
            assert renewed is not None and renewed.token == lease.token
        else:
            assert renewed is None, "a stale lease was renewed"

    @precondition(lambda self: self.seen)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        owner = data.draw(st.sampled_from(sorted(self.seen)))
        lease = data.draw(st.sampled_from(self.seen[owner]))
        released = self.run(self.store.release(lease))
        assert released == (self.live.get(owner) == lease.token)
        if released:
            del self.live[owner]

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        owner = data.draw(st.sampled_from(sorted(self.live)))
        lease = next(s for s in self.seen[owner] if s.token == self.live[owner])
        assert self.run(self.store.renew(lease, timedelta(milliseconds=1))) is not None
        self.run(asyncio.sleep(0.005))
        del self.live[owner]

    @invariant()
    def holders_match_the_model(self) -> None:
        holders = self.run(self.store.holders(self.resource))
        assert {h.owner: h.token for h in holders} == self.live
        assert len(holders) <= self.limit


def test_random_interleavings_match_the_model(mongo_uri: str) -> None:
    loop = asyncio.new_event_loop()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    db_name = f"test_model_{uuid.uuid4().hex[:8]}"
    LeaseModel.loop = loop
    LeaseModel.store = LeaseStore(client[db_name])
    try:
        run_state_machine_as_test(
            LeaseModel,
            settings=settings(
                max_examples=30,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        loop.run_until_complete(client.drop_database(db_name))
        loop.run_until_complete(client.close())
        loop.close()
