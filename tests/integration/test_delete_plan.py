"""Deadlines that fall together are spread over the provider's delete budget."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from rich.console import Console

from cli.render import status_view
from core.lifecycle import FINAL_STATES, ServerState
from core.models import ServerStatus
from tests.integration.support import MARGIN, PERIOD
from tests.support.waits import wait_until
from workflows.server import ServerWorkflow

pytestmark = [pytest.mark.integration]

BUCKET = 4  # seconds per delete: 4 requests a second, a sixteenth of them for deletes
# Each server ends at its first deadline, under a period after READY; spread by the plan.
ENDED_WITHIN = 3 * PERIOD


def rendered(status: ServerStatus) -> str:
    console = Console(width=200, record=True)
    console.print(status_view(status))
    return console.export_text()


async def moved_statuses(handles) -> list[ServerStatus]:  # type: ignore[no-untyped-def]
    """Every live status seen whose end the delete plan moved, until all have ended."""
    seen: list[ServerStatus] = []

    async def all_ended() -> bool:
        statuses = [await h.query(ServerWorkflow.status) for h in handles]
        seen.extend(s for s in statuses if s.planned_from is not None)
        return all(s.state in FINAL_STATES for s in statuses)

    await wait_until(all_ended, within=ENDED_WITHIN, what="every server ended")
    return seen


async def test_clustered_deadlines_spread_over_the_delete_budget_and_none_is_late(fleet_factory):
    fleet = await fleet_factory(vultr_requests_per_second=4, delete_budget_share=1 / 16)
    handles = [await fleet.start(f"plan-{i}") for i in range(4)]
    moved = await moved_statuses(handles)
    results = [await h.result() for h in handles]
    assert {r.state for r in results} == {ServerState.TERMINATED}
    deletes = [
        next(e.at for e in r.timeline if e.state == ServerState.TERMINATING) for r in results
    ]
    per_bucket = Counter(int(at.timestamp()) // BUCKET for at in deletes)
    assert max(per_bucket.values()) == 1, deletes
    for r, at in zip(results, deletes, strict=True):
        boundary_deadline = r.billing_start + timedelta(seconds=PERIOD - MARGIN)  # type: ignore[operator]
        assert at < boundary_deadline + timedelta(seconds=1)
    assert all(row["units"] == 1 for row in fleet.ledger())
    for row in fleet.ledger():
        assert datetime.fromisoformat(row["deleted_at"]) < datetime.fromisoformat(
            row["created_at"]
        ) + timedelta(seconds=PERIOD)
    assert moved, "four deadlines within a few seconds: at least one moves earlier"
    early = moved[0]
    seconds = (early.planned_from - early.terminate_at).total_seconds()  # type: ignore[operator]
    assert seconds > 0
    assert f"{seconds:.0f} s early (delete plan)" in rendered(early)
    assert await fleet.db["delete_plan"].count_documents({}) == 0  # released with the leases
