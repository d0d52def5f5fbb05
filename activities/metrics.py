"""Counters and histograms that activities record on the worker's Prometheus endpoint.

They go through `activity.metric_meter()` (the worker runtime's meter, which adds the
namespace, task queue and activity type), so nothing needs passing in; outside an
activity (unit tests calling the code directly) they record nothing. Labels are bounded:
provider and region ids, never a server name or an instance id.
"""

from __future__ import annotations

from temporalio import activity

__all__ = [
    "DELETE_ADVANCE_BUCKETS",
    "DELETE_LAG_BUCKETS",
    "count_delete_plan_full",
    "count_delete_retry",
    "count_rate_limited",
    "observe_delete_advance",
    "observe_delete_lag",
]

# Seconds from a server's deadline to its confirmed delete: most finish within the margin
# (60 s by default); anything past a billing period cost money.
DELETE_LAG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)
# Seconds the delete plan moved a delete before its deadline: 0 when its own second had
# room; up to the margin when many deadlines fall together.
DELETE_ADVANCE_BUCKETS = (0.0, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0)


def _provider_of_queue() -> str:
    # Provider calls run on `<queue>-<provider>` (workflows.policies.provider_task_queue);
    # provider ids contain no dash.
    return activity.info().task_queue.rpartition("-")[2]


def count_rate_limited() -> None:
    """One 429 from the provider this activity's queue serves."""
    if activity.in_activity():
        activity.metric_meter().create_counter(
            "provider_rate_limited_total", "Provider responses 429 (over the request budget)"
        ).add(1, {"provider": _provider_of_queue()})


def count_delete_retry() -> None:
    """A delete attempt after the first (the previous one failed or timed out)."""
    if activity.in_activity() and activity.info().attempt > 1:
        activity.metric_meter().create_counter(
            "fleet_delete_retries_total", "Delete attempts after the first, per provider"
        ).add(1, {"provider": _provider_of_queue()})


def observe_delete_lag(provider: str, region: str, seconds: float) -> None:
    """Deadline to confirmed delete, when a server's record turns TERMINATED."""
    if activity.in_activity():
        activity.metric_meter().create_histogram_float(
            "fleet_delete_lag_seconds",
            "Seconds from a server's deadline to its confirmed delete",
            "s",
        ).record(max(seconds, 0.0), {"provider": provider, "region": region})


def observe_delete_advance(provider: str, seconds: float) -> None:
    """A delete reserved in the plan, `seconds` before its server's deadline."""
    if activity.in_activity():
        activity.metric_meter().create_histogram_float(
            "fleet_delete_plan_advance_seconds",
            "Seconds the delete plan moved a delete before its deadline",
            "s",
        ).record(max(seconds, 0.0), {"provider": provider})


def count_delete_plan_full(provider: str) -> None:
    """A delete the plan had no room for before its deadline: it goes at the deadline."""
    if activity.in_activity():
        activity.metric_meter().create_counter(
            "fleet_delete_plan_full_total",
            "Deletes the plan had no room for (they go at their deadline, unplanned)",
        ).add(1, {"provider": provider})
