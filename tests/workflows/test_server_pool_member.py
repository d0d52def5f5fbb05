"""A warm-pool member at its deadline stays only while the pool says so; a pool whose
MongoDB does not answer within the termination slot's wait lets it go before the
boundary rather than buy a period on a guess."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.lifecycle import ServerState
from tests.workflows.fake_activities import FakeCloud
from tests.workflows.support import (
    MARGIN,
    PERIOD,
    entered,
    server_input,
    start,
    workers,
)

CHECK_WAIT = timedelta(seconds=10)  # min(10 s, MARGIN / 4) with the 60 s margin


def member(name: str):  # type: ignore[no-untyped-def]
    return server_input(name).model_copy(update={"pool": "warm-pool"})


async def test_a_member_the_pool_keeps_lives_into_its_second_period(env):
    cloud = FakeCloud(env, warm="keep")
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, member("kept-member"))
        await env.sleep(PERIOD + MARGIN)  # past the first boundary
        (inst,) = cloud.instances.values()
        assert inst.deleted is None
        assert "keep_warm" in cloud.calls
        cloud.warm = "release"
        result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.state == ServerState.TERMINATED
    assert result.billed_hours == 2
    assert inst.deleted is not None
    assert inst.deleted < inst.created + timedelta(seconds=2 * PERIOD)


async def test_a_pool_that_does_not_answer_lets_its_member_go_before_the_boundary(env):
    cloud = FakeCloud(env, warm="hang")
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, member("unanswered-member"))
        # Unbounded, the check would hold the member for ever, past every boundary.
        result = await asyncio.wait_for(handle.result(), timeout=60)
    (inst,) = cloud.instances.values()
    deadline = inst.created + timedelta(seconds=PERIOD - MARGIN)
    (terminating,) = entered(result, ServerState.TERMINATING)
    assert deadline <= terminating < deadline + CHECK_WAIT + timedelta(seconds=2)
    assert inst.deleted is not None
    assert inst.deleted < deadline + timedelta(seconds=MARGIN)
    assert result.billed_hours == 1
    assert result.timeline[-1].reason.startswith(
        "idle at billing deadline; pool warm-pool did not answer whether to keep it warm "
        "within 10 s: keep_warm timed out"
    ), result.timeline[-1].reason
