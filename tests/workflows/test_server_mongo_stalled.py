"""A read model that stops answering once the server is READY does not move its delete:
the serving loop waits for MongoDB only until the deadline, and the writes left running
finish (fenced) once it answers again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.lifecycle import ServerState
from tests.workflows.fake_activities import FakeCloud
from tests.workflows.support import PERIOD, server_input, start, workers


async def test_records_that_never_answer_after_ready_do_not_delay_the_delete(env):
    cloud = FakeCloud(env, block_records=True)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input("records-stalled"))

        # Unbounded, the READY record would hold the server until MongoDB answers,
        # which it does here only once the instance is gone: the run would never end.
        result = await asyncio.wait_for(handle.result(), timeout=60)
    (inst,) = cloud.instances.values()
    assert inst.deleted is not None
    assert inst.deleted < inst.created + timedelta(seconds=PERIOD)
    assert result.state == ServerState.TERMINATED
    assert result.billed_hours == 1
    # The writes left running landed once MongoDB answered, the last one TERMINATED.
    assert max(cloud.records, key=lambda r: r.fence).status.state == ServerState.TERMINATED
