"""The one error set every provider maps its failures onto, so retry policies and
messages never depend on which cloud answered.

Every error carries what a retry policy needs: `retryable`, `retry_after` for rate
limits, `ambiguous` when a non-idempotent request (a create) may have been applied
although it failed, and a stable `type` string that activities use as the Temporal
`ApplicationError` type. Messages say what to do next and never contain a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

__all__ = [
    "NON_RETRYABLE_ERROR_TYPES",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderError",
    "ProviderNotFound",
    "ProviderProtocolError",
    "ProviderQuotaExceeded",
    "ProviderRateLimited",
    "ProviderServerError",
    "ProviderTransportError",
    "ProviderValidationError",
]


class ProviderError(Exception):
    """Base of every provider error.

    `status` is the HTTP status, or None when no response arrived (transport,
    validation); `error_text` is the provider's own message (or a short excerpt of a
    body that was not JSON).
    """

    type: ClassVar[str] = "ProviderError"
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

    @classmethod
    def kind(cls) -> str:
        """The provider-neutral kind (`ProviderNotFound`...), for retry policies."""
        for base in cls.__mro__:
            if base.__module__ == __name__:
                return base.type  # type: ignore[attr-defined, no-any-return]
        return ProviderError.type

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


def _rebuild(cls: type[ProviderError], message: str) -> ProviderError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class ProviderValidationError(ProviderError):
    """The request was refused before it was sent (unknown region, oversized user data...).

    `problems` lists every reason at once; `provider` names who would have refused it.
    """

    type: ClassVar[str] = "ProviderValidationError"

    def __init__(
        self, problems: Sequence[str], *, subject: str = "create request", provider: str = ""
    ) -> None:
        self.problems = list(problems)
        listed = "; ".join(self.problems)
        to = f" to {provider}" if provider else ""
        super().__init__(
            f"invalid {subject}, not sent{to}: {listed}. Fix the server spec; "
            "retrying the same request will fail the same way"
        )


class ProviderBadRequest(ProviderError):
    """The provider rejected the request itself (400/422 and the like)."""

    type: ClassVar[str] = "ProviderBadRequest"


class ProviderAuthError(ProviderError):
    """401/403: the token is missing, wrong, or not allowed."""

    type: ClassVar[str] = "ProviderAuthError"


class ProviderNotFound(ProviderError):
    """404: the instance (or route) does not exist."""

    type: ClassVar[str] = "ProviderNotFound"


class ProviderQuotaExceeded(ProviderError):
    """The account may not have more of this resource (a server limit): raise the limit
    with the provider or delete servers; retrying the same create fails the same way."""

    type: ClassVar[str] = "ProviderQuotaExceeded"


class ProviderRateLimited(ProviderError):
    """429: over the account's request budget; wait `retry_after` seconds when given."""

    type: ClassVar[str] = "ProviderRateLimited"
    default_retryable: ClassVar[bool] = True


class ProviderServerError(ProviderError):
    """5xx, or a resource that is busy (locked): retry later."""

    type: ClassVar[str] = "ProviderServerError"
    default_retryable: ClassVar[bool] = True


class ProviderTransportError(ProviderError):
    """No usable response: timeout, refused or dropped connection. `ambiguous` when the
    request may have been applied (a create whose answer was lost): look it up first."""

    type: ClassVar[str] = "ProviderTransportError"
    default_retryable: ClassVar[bool] = True


class ProviderProtocolError(ProviderError):
    """A response that is not what the provider's API promises (bad JSON, wrong shape).
    Not retryable: a wrong shape is deterministic (an API change, or an API URL pointing
    at something else). A 2xx with a bad body on a create is still `ambiguous`."""

    type: ClassVar[str] = "ProviderProtocolError"


# For `RetryPolicy(non_retryable_error_types=...)`: these will not change on retry.
# Transport and protocol errors are absent because their retryability depends on the
# case; activities pass `non_retryable=error.non_retryable` to ApplicationError too.
NON_RETRYABLE_ERROR_TYPES: tuple[str, ...] = (
    ProviderValidationError.type,
    ProviderBadRequest.type,
    ProviderAuthError.type,
    ProviderNotFound.type,
    ProviderQuotaExceeded.type,
)
