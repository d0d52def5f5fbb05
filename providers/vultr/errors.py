"""Errors raised by the Vultr client, one class per way a call can fail, each a kind of
the provider-neutral error set (`providers.errors`) that activities handle.

Each keeps its own `type` string (the Temporal `ApplicationError` type). Messages say
what to do next. None of them ever contains the API key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

from providers.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTransportError,
    ProviderValidationError,
)

__all__ = [
    "VultrAuthError",
    "VultrBadRequest",
    "VultrError",
    "VultrNotFound",
    "VultrProtocolError",
    "VultrRateLimited",
    "VultrServerError",
    "VultrTransportError",
    "VultrValidationError",
    "parse_retry_after",
]


class VultrError(ProviderError):
    """Base of every error the Vultr client raises (`error_text` is Vultr's `error`)."""

    type: ClassVar[str] = "VultrError"


class VultrValidationError(VultrError, ProviderValidationError):
    """The request was rejected before it was sent (unknown region, oversized user data...)."""

    type: ClassVar[str] = "VultrValidationError"

    def __init__(self, problems: Sequence[str], *, subject: str = "create request") -> None:
        ProviderValidationError.__init__(self, problems, subject=subject, provider="Vultr")


class VultrBadRequest(VultrError, ProviderBadRequest):
    """400/422 (and other 4xx Vultr uses for rejected input): the request itself is wrong."""

    type: ClassVar[str] = "VultrBadRequest"


class VultrAuthError(VultrError, ProviderAuthError):
    """401/403: the API key is missing, wrong, or not allowed from this IP."""

    type: ClassVar[str] = "VultrAuthError"


class VultrNotFound(VultrError, ProviderNotFound):
    """404: the instance (or route) does not exist."""

    type: ClassVar[str] = "VultrNotFound"


class VultrRateLimited(VultrError, ProviderRateLimited):
    """429: over the account's request budget; wait `retry_after` seconds when given."""

    type: ClassVar[str] = "VultrRateLimited"


class VultrServerError(VultrError, ProviderServerError):
    """5xx: Vultr failed; retry later. A locked server refuses deletion with a 500."""

    type: ClassVar[str] = "VultrServerError"

    @property
    def is_locked(self) -> bool:
        """True for "Server is currently locked": the delete will work once it unlocks."""
        return "locked" in self.error_text.lower()


class VultrTransportError(VultrError, ProviderTransportError):
    """No usable response: connect/read timeout, refused or dropped connection.

    `ambiguous` is True when the request may have reached Vultr and been applied
    (a create whose answer was lost): look the resource up before retrying.
    """

    type: ClassVar[str] = "VultrTransportError"


class VultrProtocolError(VultrError, ProviderProtocolError):
    """A response that is not what the API v2 spec promises (bad JSON, wrong shape).

    Not retryable: a wrong shape is deterministic (an API change, or VULTR_API_URL
    pointing at something other than Vultr API v2), so retrying only spends the
    shared request budget. A 2xx with a bad body on a create is still `ambiguous`.
    """

    type: ClassVar[str] = "VultrProtocolError"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date).

    None when absent or unparseable; never negative (a date in the past means 0).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or math.isinf(seconds):
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
