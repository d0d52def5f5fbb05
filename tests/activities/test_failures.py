"""provider_failure: what Temporal's retry policy and the worker log see of an API error."""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationErrorCategory

from activities.failures import provider_failure
from providers.errors import ProviderAuthError, ProviderRateLimited, ProviderServerError


def test_a_429_is_a_benign_retry_after_the_providers_delay() -> None:
    failure = provider_failure(ProviderRateLimited("slow down", status=429, retry_after=2.0), "x")
    assert failure.type == "ProviderRateLimited" and not failure.non_retryable
    assert failure.next_retry_delay == timedelta(seconds=2)
    # Benign: the worker logs it at DEBUG, not as a warning with a traceback.
    assert failure.category == ApplicationErrorCategory.BENIGN


def test_other_errors_stay_warnings_and_keep_their_retryability() -> None:
    server = provider_failure(ProviderServerError("boom", status=500), "creating the instance")
    auth = provider_failure(ProviderAuthError("bad key", status=401), "creating the instance")
    assert server.category == auth.category == ApplicationErrorCategory.UNSPECIFIED
    assert server.message == "creating the instance: boom" and not server.non_retryable
    assert auth.non_retryable
    assert not provider_failure(
        ProviderAuthError("bad key"), "deleting", always_retry=True
    ).non_retryable
