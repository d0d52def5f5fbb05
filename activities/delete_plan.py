"""The delete plan in MongoDB, shared by every worker: one document per reservation.

`_id` is "<provider>:<bucket start>:<k>" for k < the bucket's budget, so a unique key
alone keeps each bucket within budget however many workers reserve at once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from temporalio import activity

from activities.leases import mongo_errors
from activities.metrics import count_delete_plan_full, observe_delete_advance
from activities.payloads import ReserveDeleteInput
from core.delete_plan import DeleteBudget, plan_slot, reservation_id, slot_time
from core.models import DeleteSlot

__all__ = ["DELETE_PLAN_COLLECTION", "DeletePlanActivities", "ensure_delete_plan_indexes"]

DELETE_PLAN_COLLECTION = "delete_plan"


async def ensure_delete_plan_indexes(db: AsyncDatabase[Any]) -> None:
    plan = db[DELETE_PLAN_COLLECTION]
    await plan.create_index([("provider", 1), ("bucket", 1)], name="provider_bucket")
    await plan.create_index("owner", name="owner")


def _ms(at: datetime) -> datetime:
    """Whole milliseconds, as MongoDB stores a date: what is returned is what is kept."""
    return datetime.fromtimestamp(math.floor(at.timestamp() * 1000) / 1000, UTC)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class DeletePlanActivities:
    def __init__(
        self, db: AsyncDatabase[Any], budget: Callable[[str], DeleteBudget | None]
    ) -> None:
        self._plan = db[DELETE_PLAN_COLLECTION]
        self._budget = budget  # a provider's budget; None: the planner is off

    @activity.defn(name="reserve_delete_slot")
    async def reserve_delete_slot(self, request: ReserveDeleteInput) -> DeleteSlot:
        """The owner's slot for this deadline: the one it holds for it already, else the
        latest free one in [not_before, deadline] (replacing one for another deadline).
        Every slot full, or the planner off: the deadline itself, unreserved."""
        deadline, owner = request.deadline, request.owner
        unplanned = DeleteSlot(at=deadline, deadline=deadline)
        budget = self._budget(request.provider)
        if budget is None:
            return unplanned
        deadline_ms = math.floor(deadline.timestamp() * 1000)
        with mongo_errors(f"reserve a delete slot for {owner!r}"):
            held = await self._plan.find_one({"owner": owner, "deadline_ms": deadline_ms})
            if held is not None:
                return DeleteSlot(at=_utc(held["at"]), deadline=deadline)
            await self._plan.delete_many({"owner": owner})
            first = budget.bucket(math.floor(request.not_before.timestamp()))
            taken = self._plan.find(
                {"provider": request.provider, "bucket": {"$gte": first}}, {"bucket": 1}
            )
            counts = Counter([doc["bucket"] async for doc in taken])
            while (bucket := plan_slot(deadline, request.not_before, counts, budget)) is not None:
                at = _ms(slot_time(bucket, deadline, request.not_before, budget))
                for k in range(budget.per_bucket):
                    doc = {
                        "_id": reservation_id(request.provider, bucket, k),
                        "owner": owner,
                        "provider": request.provider,
                        "bucket": bucket,
                        "at": at,
                        "deadline_ms": deadline_ms,
                    }
                    try:
                        await self._plan.insert_one(doc)
                        observe_delete_advance(request.provider, (deadline - at).total_seconds())
                        return DeleteSlot(at=at, deadline=deadline)
                    except DuplicateKeyError:
                        continue  # another server took this place meanwhile
                counts[bucket] = budget.per_bucket  # full: look one bucket earlier
        count_delete_plan_full(request.provider)
        return unplanned

    @activity.defn(name="release_delete_slot")
    async def release_delete_slot(self, owner: str) -> int:
        """Give back the owner's reservation (it went busy, or is gone)."""
        with mongo_errors(f"release the delete slot of {owner!r}"):
            result = await self._plan.delete_many({"owner": owner})
        return result.deleted_count
