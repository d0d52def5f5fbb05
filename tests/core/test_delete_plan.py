"""The delete plan's pure rules: buckets within budget, slots never after the deadline."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.delete_plan import DeleteBudget, plan_slot, slot_time
from core.settings import load_settings

T0 = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
EPOCH0 = int(T0.timestamp())


def test_budget_from_rate_never_exceeds_the_rate():
    assert DeleteBudget.from_rate(12.5) == DeleteBudget(per_bucket=12, bucket_seconds=1)
    assert DeleteBudget.from_rate(1.0) == DeleteBudget(per_bucket=1, bucket_seconds=1)
    assert DeleteBudget.from_rate(0.45) == DeleteBudget(per_bucket=1, bucket_seconds=3)
    assert DeleteBudget.from_rate(0.5) == DeleteBudget(per_bucket=1, bucket_seconds=2)
    with pytest.raises(ValueError):
        DeleteBudget.from_rate(0)


def test_settings_take_half_the_provider_rate_or_none_when_off():
    rates = {"hetzner_requests_per_second": 0.9, "vultr_requests_per_second": 25}
    settings = load_settings(**rates, delete_budget_share=0.5, delete_planner="on")
    assert settings.delete_budget("hetzner") == DeleteBudget(1, 3)  # 0.45 a second
    assert settings.delete_budget("vultr") == DeleteBudget(12, 1)  # 12.5 a second
    assert load_settings(**rates, delete_planner="off").delete_budget("hetzner") is None


def test_free_deadline_second_is_taken_as_is():
    deadline = T0 + timedelta(seconds=100.4)
    budget = DeleteBudget(2, 1)
    bucket = plan_slot(deadline, T0, {}, budget)
    assert bucket == EPOCH0 + 100
    assert slot_time(bucket, deadline, T0, budget) == T0 + timedelta(seconds=100)


def test_full_second_moves_the_delete_one_earlier():
    budget = DeleteBudget(2, 1)
    counts = {EPOCH0 + 100: 2, EPOCH0 + 99: 1}
    assert plan_slot(T0 + timedelta(seconds=100), T0, counts, budget) == EPOCH0 + 99


def test_no_room_after_not_before_means_no_slot():
    budget = DeleteBudget(1, 1)
    counts = {EPOCH0 + s: 1 for s in range(0, 11)}
    assert plan_slot(T0 + timedelta(seconds=10), T0, counts, budget) is None


def test_slot_in_an_earlier_wide_bucket_is_its_last_second():
    budget = DeleteBudget(1, 3)
    deadline = T0 + timedelta(seconds=100)
    full = budget.bucket(EPOCH0 + 100)
    bucket = plan_slot(deadline, T0, {full: 1}, budget)
    assert bucket == full - 3
    assert slot_time(bucket, deadline, T0, budget) == datetime.fromtimestamp(full - 1, UTC)


@given(
    deadlines=st.lists(st.integers(min_value=30, max_value=90), min_size=1, max_size=80),
    per_bucket=st.integers(min_value=1, max_value=3),
    bucket_seconds=st.integers(min_value=1, max_value=4),
)
def test_reservations_never_exceed_the_budget_nor_move_later(
    deadlines: list[int], per_bucket: int, bucket_seconds: int
) -> None:
    budget = DeleteBudget(per_bucket, bucket_seconds)
    counts: Counter[int] = Counter()
    for offset in deadlines:
        deadline = T0 + timedelta(seconds=offset)
        bucket = plan_slot(deadline, T0, counts, budget)
        if bucket is None:  # only when every bucket from now to the deadline is full
            assert all(
                counts[b] >= per_bucket
                for b in range(budget.bucket(EPOCH0), EPOCH0 + offset + 1, bucket_seconds)
            )
            continue
        at = slot_time(bucket, deadline, T0, budget)
        assert T0 <= at <= deadline
        assert budget.bucket(int(at.timestamp())) == bucket
        counts[bucket] += 1
        # Latest with room: every later bucket up to the deadline is full.
        for later in range(bucket + bucket_seconds, EPOCH0 + offset + 1, bucket_seconds):
            assert counts[later] >= per_bucket
    assert all(n <= per_bucket for n in counts.values())
