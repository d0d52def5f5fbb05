"""Provider activities heartbeat while their body waits, and only then."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import ActivityEnvironment

from activities import heartbeat
from activities.heartbeat import heartbeating


@pytest.fixture(autouse=True)
def fast_beats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heartbeat, "HEARTBEAT_EVERY_SECONDS", 0.05)


async def test_an_activity_heartbeats_while_its_call_is_in_flight_and_stops_after() -> None:
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    @heartbeating
    async def slow_call(value: int) -> int:
        await asyncio.sleep(0.3)
        return value * 2

    assert await env.run(slow_call, 21) == 42
    during = len(beats)
    await asyncio.sleep(0.2)
    assert during >= 4, beats
    assert len(beats) == during  # no beat once the activity has returned


async def test_a_failing_call_still_raises_and_stops_the_heartbeats() -> None:
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    @heartbeating
    async def failing_call() -> None:
        await asyncio.sleep(0.1)
        raise RuntimeError("provider said no")

    with pytest.raises(RuntimeError, match="provider said no"):
        await env.run(failing_call)
    after = len(beats)
    await asyncio.sleep(0.2)
    assert after >= 1 and len(beats) == after


async def test_a_cancelled_activity_cancels_its_call() -> None:
    env = ActivityEnvironment()
    reached = asyncio.Event()

    @heartbeating
    async def never_answers() -> None:
        reached.set()
        await asyncio.sleep(60)

    running = asyncio.ensure_future(env.run(never_answers))
    await asyncio.wait_for(reached.wait(), 5)
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 5)
