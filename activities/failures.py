"""Turn provider errors into Temporal ApplicationErrors that retry policies understand."""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.metrics import count_rate_limited
from providers.errors import ProviderError, ProviderRateLimited

__all__ = ["provider_failure"]


def provider_failure(
    error: ProviderError, doing: str, *, always_retry: bool = False
) -> ApplicationError:
    """Non-retryable errors fail fast; a 429 waits for the provider's retry-after. The
    type is the provider-neutral kind, so retry policies name no provider.

    `always_retry` is for cleanup that must never be abandoned (deleting an instance).
    A 429 is benign: at fleet scale it is routine, counted by provider_rate_limited_total,
    and logged by the worker at DEBUG instead of as a warning with a traceback each.
    """
    rate_limited = isinstance(error, ProviderRateLimited)
    if rate_limited:
        count_rate_limited()
    delay = timedelta(seconds=error.retry_after) if error.retry_after else None
    return ApplicationError(
        f"{doing}: {error}",
        {
            "status": error.status,
            "error": error.error_text,
            "ambiguous": error.ambiguous,
            "provider_error": error.type,
        },
        type=error.kind(),
        non_retryable=error.non_retryable and not always_retry,
        next_retry_delay=delay,
        category=(
            ApplicationErrorCategory.BENIGN
            if rate_limited
            else ApplicationErrorCategory.UNSPECIFIED
        ),
    )
