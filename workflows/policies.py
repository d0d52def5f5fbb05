"""Retry policies and timeouts for each kind of activity the server workflow runs."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import Priority, RetryPolicy

from providers.errors import NON_RETRYABLE_ERROR_TYPES

__all__ = [
    "CONFIRM_RETRY",
    "DEADLINE_MONGO_WAIT",
    "DELETE_PRIORITY",
    "DELETE_RETRY",
    "LEASE_WAIT_RETRY",
    "MONGO_RETRY",
    "PROVIDER_HEARTBEAT_TIMEOUT",
    "PROVIDER_RETRY",
    "READY_POLL_PRIORITY",
    "TERMINATION_SLOT_RETRY",
    "deadline_mongo_wait",
    "provider_catalog_queue",
    "provider_task_queue",
    "ready_poll_retry",
]

# Provider activities heartbeat about every second while their call is in flight
# (activities/heartbeat.py): an attempt lost with a killed worker is retried once this
# passes, not when its start-to-close timeout does, so a crash during a delete costs
# seconds of the margin instead of most of a minute.
PROVIDER_HEARTBEAT_TIMEOUT = timedelta(seconds=5)

# Validation, auth and not-found errors will not change on retry: fail fast.
PROVIDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
)

# A delete is never abandoned: an instance without a workflow would bill forever.
# Auth errors are retried too, so that fixing the provider's token lets it finish. The
# interval stays short: a locked server unlocks within seconds, and the margin before
# the boundary is only a minute, so a long backoff would itself start a new hour.
DELETE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=5),
)

# A provider's queue is rate-limited, so a backlog forms whenever many servers boot at
# once. A DELETE due at its deadline must not queue behind readiness polls: a late
# delete pays a whole period. Lower goes first; unset is the default, 3.
DELETE_PRIORITY = Priority(priority_key=1)
READY_POLL_PRIORITY = Priority(priority_key=4)

# Waiting for a termination slot: ask often (one cheap MongoDB call), since every
# second spent waiting is a second less of the margin before the boundary.
TERMINATION_SLOT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=2),
)

# MongoDB is best effort at a deadline: the provider's queue already enforces its rate
# limit, so a delete whose termination slot (or a pool's keep-warm answer) did not come
# within this bound goes without it rather than start a new period.
DEADLINE_MONGO_WAIT = timedelta(seconds=10)


def deadline_mongo_wait(margin: timedelta) -> timedelta:
    """How long each MongoDB call on the way from a deadline to its delete may take (the
    keep-warm check, the termination slot, a kept server's quota renewal): a quarter of
    the margin before the boundary, so that two of them still leave half of it for the
    provider's queue and the DELETE; at most DEADLINE_MONGO_WAIT and at least a second
    (a margin of 0 still gets one ask)."""
    return max(timedelta(seconds=1), min(DEADLINE_MONGO_WAIT, margin / 4))


# After a delete: a few looks, then the workflow deletes again.
CONFIRM_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5)

# MongoDB is the lease and read-model store; transient errors retry until it is back.
MONGO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)

# Waiting for a slot of a shared semaphore: each denied attempt is a retry.
LEASE_WAIT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=15),
)


def ready_poll_retry(poll_seconds: float) -> RetryPolicy:
    """Poll readiness at a steady pace; retries add no history events."""
    every = timedelta(seconds=poll_seconds)
    return RetryPolicy(
        initial_interval=every,
        backoff_coefficient=1.0,
        maximum_interval=every,
        non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
    )


def provider_task_queue(main_task_queue: str, provider: str) -> str:
    """Each provider account's calls run on their own queue, rate-limited for the whole
    account across every worker."""
    return f"{main_task_queue}-{provider}"


def provider_catalog_queue(main_task_queue: str, provider: str) -> str:
    """Spec checks against a provider's catalog, which each worker loads once and then
    answers from memory: their own queue, without a rate limit, so they take no place
    in the account's request budget. The provider id stays last (activities.metrics)."""
    return f"{main_task_queue}-catalog-{provider}"
