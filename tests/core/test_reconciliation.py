"""Reconciliation's decisions, from listings and records alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.lifecycle import ServerState
from core.naming import MANAGED_TAG, instance_tag
from core.reconciliation import Record, findings, workflows_to_check
from providers.base import Instance

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)
OLD = NOW - timedelta(hours=1)


def ours(instance_id: str, wf: str, created: datetime = OLD) -> Instance:
    return Instance(
        id=instance_id, created=created, image="2284", tags=(MANAGED_TAG, instance_tag(wf))
    )


def record(wf: str, instance_id: str, state: ServerState = ServerState.IDLE) -> Record:
    return Record(workflow_id=wf, state=state, instance_id=instance_id, billing_start=OLD)


def kinds(found):  # type: ignore[no-untyped-def]
    return [(f.kind, f.workflow_id, f.instance_id) for f in found]


def test_an_instance_without_a_running_workflow_is_an_orphan_and_its_twins_duplicates():
    listed = [ours("b", "server-x", OLD + timedelta(seconds=5)), ours("a", "server-x")]
    found = findings(listed, [], set(), NOW, GRACE, "vultr")
    assert kinds(found) == [("orphan", "server-x", "a"), ("duplicate", "server-x", "b")]
    assert found[0].os_id == 2284


def test_a_running_workflow_keeps_its_own_instance_and_loses_extras():
    listed = [ours("a", "server-x"), ours("b", "server-x")]
    found = findings(listed, [record("server-x", "b")], {"server-x"}, NOW, GRACE, "vultr")
    assert kinds(found) == [("duplicate", "server-x", "a")]


def test_instances_younger_than_the_grace_are_left_alone():
    listed = [ours("a", "server-new", NOW - timedelta(minutes=1))]
    assert findings(listed, [], set(), NOW, GRACE, "vultr") == []
    assert workflows_to_check(listed, [], NOW, GRACE) == set()


def test_a_serving_record_whose_instance_is_not_listed_is_gone_if_its_workflow_runs():
    records = [record("server-y", "vanished")]
    assert workflows_to_check([], records, NOW, GRACE) == {"server-y"}
    found = findings([], records, {"server-y"}, NOW, GRACE, "hetzner")
    assert kinds(found) == [("gone", "server-y", "vanished")]
    assert found[0].detail == "instance no longer listed at hetzner"
    assert findings([], records, set(), NOW, GRACE, "hetzner") == []


def test_provisioning_and_terminating_records_are_never_gone():
    for state in (ServerState.PROVISIONING, ServerState.TERMINATING):
        records = [record("server-z", "i", state)]
        assert findings([], records, {"server-z"}, NOW, GRACE, "vultr") == []


def test_an_instance_that_is_not_ours_is_never_a_finding():
    stranger = Instance(id="s", created=OLD, tags=("team:ci",))
    assert findings([stranger], [], set(), NOW, GRACE, "vultr") == []
