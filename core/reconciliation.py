"""What reconciliation finds, decided from what a provider lists and what the read
model records: pure, so every case is a unit test. The activity gathers the inputs;
the workflow acts on the findings."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.lifecycle import SERVING_STATES, ServerState
from core.naming import owner_of
from providers.base import Instance

__all__ = ["Finding", "Record", "findings", "workflows_to_check"]


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["orphan", "duplicate", "gone"]
    workflow_id: str
    instance_id: str
    region: str = ""
    plan: str = ""
    os_id: int = 0
    created: datetime | None = None
    detail: str = ""


class Record(BaseModel):
    """The read model's view of one live server workflow."""

    model_config = ConfigDict(extra="ignore")

    workflow_id: str
    state: ServerState
    instance_id: str | None = None
    billing_start: datetime | None = None


def _ours_by_workflow(
    instances: Iterable[Instance], now: datetime, grace: timedelta
) -> dict[str, list[Instance]]:
    """Our instances older than the grace, by owning workflow, oldest first."""
    found: dict[str, list[Instance]] = {}
    for inst in instances:
        wf = owner_of(inst.tags)
        if wf is not None and inst.created is not None and now - inst.created >= grace:
            found.setdefault(wf, []).append(inst)
    for insts in found.values():
        insts.sort(key=lambda i: (i.created, i.id))
    return found


def _maybe_gone(records: Iterable[Record], live: Collection[str], now: datetime, grace: timedelta):  # type: ignore[no-untyped-def]
    for record in records:
        if (
            record.state in SERVING_STATES
            and record.instance_id
            and record.instance_id not in live
            and record.billing_start is not None
            and now - record.billing_start >= grace
        ):
            yield record


def workflows_to_check(
    instances: list[Instance], records: list[Record], now: datetime, grace: timedelta
) -> set[str]:
    """The workflows whose running or not decides a finding."""
    live = {i.id for i in instances}
    return set(_ours_by_workflow(instances, now, grace)) | {
        r.workflow_id for r in _maybe_gone(records, live, now, grace)
    }


def findings(
    instances: list[Instance],
    records: list[Record],
    running: Collection[str],
    now: datetime,
    grace: timedelta,
    provider: str,
) -> list[Finding]:
    """Orphans (ours, no running workflow: the oldest is the orphan, the rest are
    duplicates), duplicates (ours, beside the instance a running workflow owns) and
    servers whose instance the provider no longer lists; all older than the grace.
    `instances` are our instances (ownership already decided)."""
    owned_by = {r.workflow_id: r.instance_id for r in records}
    found: list[Finding] = []
    for wf, insts in sorted(_ours_by_workflow(instances, now, grace).items()):
        owned = owned_by.get(wf) if wf in running else None
        for index, inst in enumerate(insts):
            base = {
                "workflow_id": wf,
                "instance_id": inst.id,
                "region": inst.region,
                "plan": inst.plan,
                "os_id": int(inst.image) if inst.image.isdigit() else 0,
                "created": inst.created,
            }
            if wf not in running:
                kind = "orphan" if index == 0 else "duplicate"
                found.append(Finding(kind=kind, detail="no running workflow", **base))
            elif owned is not None and inst.id != owned:
                found.append(Finding(kind="duplicate", detail=f"workflow owns {owned}", **base))
    live = {i.id for i in instances}
    for record in _maybe_gone(records, live, now, grace):
        if record.workflow_id in running:
            found.append(
                Finding(
                    kind="gone",
                    workflow_id=record.workflow_id,
                    instance_id=record.instance_id or "",
                    detail=f"instance no longer listed at {provider}",
                )
            )
    return found
