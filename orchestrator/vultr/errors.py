"""Errors raised by the Vultr client, one class per way a call can fail.

Every error carries what a retry policy needs: `retryable` (and its inverse
`non_retryable`), `retry_after` for rate limits, `ambiguous` when a
non-idempotent request may have been applied although it failed, and a stable
`type` string that activities use as the Temporal `ApplicationError` type.
Messages say what to do next. None of them ever contains the API key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

__all__ = [
    "NON_RETRYABLE_ERROR_TYPES",
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


class VultrError(Exception):
    """Base of every error the client raises.

    `status` is the HTTP status, or None when no response arrived (transport,
    validation). `error_text` is Vultr's own `error` field (or a short excerpt of
    a body that was not JSON).
    """

    type: ClassVar[str] = "VultrError"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_text: str = "",
        retryable: bool | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_text = error_text
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.method = method
        self.path = path

    @property
    def non_retryable(self) -> bool:
        return not self.retryable

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        parts = [repr(self.message), f"status={self.status!r}", f"retryable={self.retryable}"]
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after!r}")
        if self.ambiguous:
            parts.append("ambiguous=True")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keyword-only constructor arguments: pickle via the instance dict instead.
        return (_rebuild, (type(self), self.message), self.__dict__)


def _rebuild(cls: type[VultrError], message: str) -> VultrError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class VultrValidationError(VultrError):
    """The request was rejected before it was sent (unknown region, oversized user data...)."""

    type: ClassVar[str] = "VultrValidationError"

    def __init__(self, problems: Sequence[str], *, subject: str = "create request") -> None:
        self.problems = list(problems)
        listed = "; ".join(self.problems)
        super().__init__(
            f"invalid {subject}, not sent to Vultr: {listed}. Fix the server spec; "
            "retrying the same request will fail the same way"
        )


class VultrBadRequest(VultrError):
    """400/422 (and other 4xx Vultr uses for rejected input): the request itself is wrong."""

    type: ClassVar[str] = "VultrBadRequest"


class VultrAuthError(VultrError):
    """401/403: the API key is missing, wrong, or not allowed from this IP."""

    type: ClassVar[str] = "VultrAuthError"


class VultrNotFound(VultrError):
    """404: the instance (or route) does not exist."""

    type: ClassVar[str] = "VultrNotFound"


class VultrRateLimited(VultrError):
    """429: over the account's request budget; wait `retry_after` seconds when given."""

    type: ClassVar[str] = "VultrRateLimited"
    default_retryable: ClassVar[bool] = True


class VultrServerError(VultrError):
    """5xx: Vultr failed; retry later. A locked server refuses deletion with a 500."""

    type: ClassVar[str] = "VultrServerError"
    default_retryable: ClassVar[bool] = True

    @property
    def is_locked(self) -> bool:
        """True for "Server is currently locked": the delete will work once it unlocks."""
        return "locked" in self.error_text.lower()


class VultrTransportError(VultrError):
    """No usable response: connect/read timeout, refused or dropped connection.

    `ambiguous` is True when the request may have reached Vultr and been applied
    (a create whose answer was lost): look the resource up before retrying.
    """

    type: ClassVar[str] = "VultrTransportError"
    default_retryable: ClassVar[bool] = True


class VultrProtocolError(VultrError):
    """A response that is not what the API v2 spec promises (bad JSON, wrong shape).

    Not retryable: a wrong shape is deterministic (an API change, or VULTR_API_URL
    pointing at something other than Vultr API v2), so retrying only spends the
    shared request budget. A 2xx with a bad body on a create is still `ambiguous`.
    """

    type: ClassVar[str] = "VultrProtocolError"


# For `RetryPolicy(non_retryable_error_types=...)`. Transport and protocol errors
# are absent because their retryability depends on the case; activities should
# pass `non_retryable=error.non_retryable` to ApplicationError instead.
NON_RETRYABLE_ERROR_TYPES: tuple[str, ...] = (
    VultrValidationError.type,
    VultrBadRequest.type,
    VultrAuthError.type,
    VultrNotFound.type,
)


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
