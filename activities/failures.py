"""Turn library errors into Temporal ApplicationErrors that retry policies understand."""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from orchestrator.vultr import VultrError

__all__ = ["vultr_failure"]


def vultr_failure(error: VultrError, doing: str, *, always_retry: bool = False) -> ApplicationError:
    """Non-retryable errors fail fast; a 429 waits for Vultr's Retry-After.

    `always_retry` is for cleanup that must never be abandoned (deleting an instance).
    """
    delay = timedelta(seconds=error.retry_after) if error.retry_after else None
    return ApplicationError(
        f"{doing}: {error}",
        {"status": error.status, "error": error.error_text, "ambiguous": error.ambiguous},
        type=error.type,
        non_retryable=error.non_retryable and not always_retry,
        next_retry_delay=delay,
    )
