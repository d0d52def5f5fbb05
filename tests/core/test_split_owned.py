"""A listing split by ownership: ours oldest first, the others counted and the first few
named, each instance once however often the listing repeats it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.naming import MANAGED_TAG, instance_tag
from providers.base import Instance
from providers.ownership import NOT_OURS_IDS_SHOWN, split_owned

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ours(instance_id: str, minutes: int) -> Instance:
    tags = (MANAGED_TAG, instance_tag(f"server-{instance_id}"))
    return Instance(id=instance_id, created=T0 + timedelta(minutes=minutes), tags=tags)


def oldest_first(instances: list[Instance]) -> list[Instance]:
    return sorted(instances, key=lambda i: i.created)  # type: ignore[arg-type, return-value]


def test_ours_come_oldest_first_and_the_others_are_counted_and_named():
    listed = [ours("b", 2), Instance(id="x", tags=(MANAGED_TAG,)), ours("a", 1), Instance(id="y")]
    owned = split_owned(listed, oldest_first)
    assert [i.id for i in owned.instances] == ["a", "b"]
    assert (owned.not_ours, owned.not_ours_ids) == (2, ["x", "y"])


def test_an_instance_listed_twice_counts_once():
    """Else one of ours, repeated by a shifting page, would be its own duplicate."""
    listed = [ours("a", 1), Instance(id="x"), ours("a", 1), Instance(id="x")]
    owned = split_owned(listed, oldest_first)
    assert [i.id for i in owned.instances] == ["a"]
    assert (owned.not_ours, owned.not_ours_ids) == (1, ["x"])


def test_only_the_first_few_others_are_named_but_all_are_counted():
    listed = [Instance(id=f"x{n}") for n in range(NOT_OURS_IDS_SHOWN + 5)]
    owned = split_owned(listed, oldest_first)
    assert owned.not_ours == NOT_OURS_IDS_SHOWN + 5
    assert owned.not_ours_ids == [f"x{n}" for n in range(NOT_OURS_IDS_SHOWN)]
