"""The read-model document <-> ServerStatus rule, in one place beside its writer."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.fleet_store import status_from_record
from core.lifecycle import ServerState
from core.models import ServerStatus, TimelineEntry


def written(status: ServerStatus) -> dict:
    """What record_server stores: the status's fields plus the store's own."""
    return {
        **status.model_dump(mode="python", exclude={"kind"}),
        "_id": f"{status.workflow_id}/{status.generation}",
        "fence": 7,
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }


def a_status() -> ServerStatus:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    return ServerStatus(
        name="web-1",
        workflow_id="server-web-1",
        generation="g1",
        state=ServerState.IDLE,
        region="ewr",
        plan="vc2-1c-1gb",
        billing_start=at,
        timeline=[TimelineEntry(state=ServerState.READY, at=at, reason="ok")],
    )


def test_a_written_document_reads_back_as_the_status_that_was_written():
    status = a_status()
    assert status_from_record(written(status)) == status


def test_naive_datetimes_from_a_client_without_tz_aware_read_as_utc():
    doc = written(a_status())
    doc["billing_start"] = doc["billing_start"].replace(tzinfo=None)
    doc["timeline"] = [{**e, "at": e["at"].replace(tzinfo=None)} for e in doc["timeline"]]
    status = status_from_record(doc)
    assert status.billing_start == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert status.timeline[0].at.tzinfo is not None


def test_fields_the_store_or_an_older_version_added_are_left_out():
    doc = written(a_status()) | {"retired_field": 1}
    assert status_from_record(doc).name == "web-1"
