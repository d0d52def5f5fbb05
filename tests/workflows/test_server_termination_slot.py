"""The termination slot is best effort: a delete that cannot get one within its bound
(a quarter of the margin, at most 10 s) goes without one, and says why."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

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

SLOT_WAIT = timedelta(seconds=10)  # min(10 s, MARGIN / 4) with the 60 s margin


@pytest.mark.parametrize(
    ("slot", "why"),
    [
        ("hang", "MongoDB did not answer within 10 s"),
        ("taken", "every termination slot stayed taken for 10 s"),
    ],
)
async def test_a_delete_goes_without_a_termination_slot_after_its_bound(env, slot, why):
    cloud = FakeCloud(env, termination_slot=slot)
    async with workers(env, cloud) as queue:
        handle = await start(env, queue, server_input(f"no-slot-{slot}"))
        # Unbounded, the delete would wait for the slot for ever.
        result = await asyncio.wait_for(handle.result(), timeout=60)
    (inst,) = cloud.instances.values()
    deadline = inst.created + timedelta(seconds=PERIOD - MARGIN)
    (terminating,) = entered(result, ServerState.TERMINATING)
    assert inst.deleted is not None
    # It asked for a while (a retry due past the bound gives up early), then no longer.
    waited = inst.deleted - terminating
    assert SLOT_WAIT / 2 <= waited < SLOT_WAIT + timedelta(seconds=2), waited
    assert inst.deleted < deadline + timedelta(seconds=MARGIN)  # before the boundary
    assert result.state == ServerState.TERMINATED
    assert result.billed_hours == 1
    assert "release_termination_slot" not in cloud.calls
    assert cloud.leases_held == set()
    assert result.timeline[-1].reason == (
        f"idle at billing deadline; deleting without a termination slot: {why}"
    )
