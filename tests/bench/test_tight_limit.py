"""bench/tight_limit.py: its reading of the Hetzner ledger and request log, and a short
run at one request a second on its own stack."""

from __future__ import annotations

import pytest

from bench.harness import ApiRequest
from bench.tight_limit import hetzner_deletes, measure, outcome, period_for
from core.delete_plan import DeleteBudget
from core.settings import Settings

P = 100.0


def row(server_id: int, created: str, deleted: str | None, units: int) -> dict[str, object]:
    return {"server_id": server_id, "created_at": created, "deleted_at": deleted, "units": units}


def delete(server_id: int, at: float, status: int = 200) -> ApiRequest:
    return ApiRequest(
        "DELETE", f"/v1/servers/{server_id}", "DELETE /v1/servers/{id}", status, at, False
    )


def test_a_server_deleted_after_its_boundary_counts_as_an_extra_period() -> None:
    start = "2026-01-01T00:00:00+00:00"
    t0 = 1767225600.0  # that moment as epoch seconds
    ledger = [row(1, start, "2026-01-01T00:01:30+00:00", 1), row(2, start, "x", 2)]
    deletes = hetzner_deletes([delete(1, t0 + 90), delete(2, t0 + 95, 429), delete(2, t0 + 101)])
    result = outcome(ledger, deletes, P)
    assert (result.servers, result.deleted_in_time, result.extra_periods) == (2, 1, 1)
    # Slack is boundary - successful DELETE; the refused one does not count.
    assert (result.slack["min"], result.slack["max"]) == (-1.0, 10.0)
    assert result.not_deleted == 0


def test_a_server_never_deleted_is_neither_in_time_nor_given_a_slack() -> None:
    result = outcome([row(7, "2026-01-01T00:00:00+00:00", None, 1)], {}, P)
    assert (result.deleted_in_time, result.not_deleted, result.slack) == (0, 1, {"n": 0})


def test_the_default_period_leaves_room_to_create_every_server_before_the_first_deadline():
    # 120 servers at 1 request/s, 4 requests each: 480 s of creating, then the margin.
    assert period_for(120, 1.0, 60, 4) - 60 > 120 * 4


@pytest.mark.slow
@pytest.mark.integration  # a whole stack of its own
async def test_idle_servers_at_one_request_a_second_are_each_deleted_before_their_boundary():
    servers, rate, margin = 3, 1.0, 8
    # A period long enough that the last of the three is READY before its first
    # deadline even when the queue serves a request only every few seconds (seen on a
    # loaded machine): one that is READY after it pays a period by design.
    period = 40
    result, raw = await measure(
        servers, rate, margin, period, boot_seconds=1.0, ready_poll_seconds=2.0
    )
    assert raw["states"] == {"TERMINATED": servers}, raw
    assert (result.servers, result.deleted_in_time, result.extra_periods) == (servers, servers, 0)
    # Deleted before its boundary, and no earlier than its deadline (boundary - margin)
    # moved to a delete-plan slot: when the deadlines fall together, each server may take
    # a bucket before the next one's, and its delete runs up to a bucket before the
    # bucket's end.
    budget = DeleteBudget.from_rate(rate * Settings.model_fields["delete_budget_share"].default)
    earliest = margin + servers * budget.bucket_seconds
    assert 0 < result.slack["min"] and result.slack["max"] <= earliest + 1, result.slack
