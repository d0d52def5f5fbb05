"""Live status is billed as of the moment it is shown, not of the workflow's last task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from client.fleet import billing_as_of
from core.lifecycle import ServerState
from core.models import ServerStatus

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PERIOD = timedelta(seconds=60)


def status(state: ServerState = ServerState.EXECUTING) -> ServerStatus:
    """As a query answers right after the server's first deadline: one period billed."""
    return ServerStatus(
        name="web-1",
        workflow_id="server-web-1",
        state=state,
        region="ewr",
        plan="vc2-1c-1gb",
        billing_start=START,
        next_boundary=START + PERIOD,
        terminate_at=START + 2 * PERIOD - timedelta(seconds=5),
        billed_hours=1,
        cost=0.01,
    )


def test_a_busy_server_past_its_boundary_is_billed_the_started_period():
    shown = billing_as_of(status(), START + PERIOD + timedelta(seconds=1))

    assert shown.billed_hours == 2
    assert shown.next_boundary == START + 2 * PERIOD
    assert shown.cost == 0.02


def test_a_status_whose_boundary_is_ahead_is_shown_as_answered():
    answered = status()

    assert billing_as_of(answered, START + PERIOD - timedelta(seconds=1)) == answered


def test_a_finished_server_is_shown_as_recorded():
    finished = status(ServerState.TERMINATED)

    assert billing_as_of(finished, START + 10 * PERIOD) == finished
