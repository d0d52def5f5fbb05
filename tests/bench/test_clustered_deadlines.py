"""bench/clustered_deadlines.py: its sizing and reading of the ledger, and a short run
in which deletes due within one margin outnumber what the rate carries in it."""

from __future__ import annotations

import pytest

from bench.clustered_deadlines import (
    DELETE_SHARE,
    SETUP_SECONDS,
    boundary_spread,
    clustered_servers,
    measure,
    period_for,
)


def test_three_margins_of_deletes_at_the_rate_is_the_default_fleet():
    assert clustered_servers(2.0, 10) == 60
    assert clustered_servers(0.5, 5) == 8  # rounded up: never fewer than three margins


def test_the_period_leaves_room_to_spread_every_delete_before_the_first_deadline():
    servers, rate, margin, create_rate = 180, 2.0, 30, 25.0
    period = period_for(servers, rate, margin, create_rate)
    creating = SETUP_SECONDS + servers * 4 / create_rate
    assert period - margin - creating >= servers / (rate * DELETE_SHARE)


def test_the_boundary_spread_runs_from_the_first_creation_to_the_last():
    ledger = [
        {"created_at": "2026-01-01T00:00:07+00:00"},
        {"created_at": "2026-01-01T00:00:01+00:00"},
        {"created_at": None},
    ]
    assert boundary_spread(ledger) == 6.0
    assert boundary_spread([]) == 0.0


@pytest.mark.slow
@pytest.mark.integration  # a whole stack of its own
async def test_clustered_deadlines_are_each_deleted_before_their_boundary_with_the_plan():
    servers, rate, margin = clustered_servers(2.0, 5), 2.0, 5
    period = period_for(servers, rate, margin, 25.0)
    result, raw = await measure(servers, rate, margin, period, create_rate=25.0, planner=True)
    assert raw["states"] == {"TERMINATED": servers}, raw
    # The scenario holds: deleted at the rate from their deadlines on, the last ones
    # would cross their boundaries (N deletes take three margins; the boundaries are
    # spread over less than two).
    assert raw["boundary_spread_seconds"] + margin < servers / rate, raw
    assert (result.deleted_in_time, result.extra_periods, result.not_deleted) == (servers, 0, 0)
    assert result.slack["min"] > 0, result.slack
