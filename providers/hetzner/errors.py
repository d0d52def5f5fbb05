"""Errors raised by the Hetzner Cloud client, each a kind of the provider-neutral error
set (`providers.errors`), and how an error answer maps onto them.

Hetzner's body is `{"error": {"code", "message", "details"}}`; the code decides the
class, the status only when the code is unknown. Messages say what to do next and never
contain the token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from providers.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderProtocolError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTransportError,
    ProviderValidationError,
)

__all__ = [
    "HetznerAuthError",
    "HetznerBadRequest",
    "HetznerError",
    "HetznerNotFound",
    "HetznerProtocolError",
    "HetznerQuotaExceeded",
    "HetznerRateLimited",
    "HetznerServerError",
    "HetznerTransportError",
    "HetznerValidationError",
    "error_for",
    "retry_after_from_headers",
]


class HetznerError(ProviderError):
    """Base of every error the Hetzner client raises; `code` is Hetzner's error code."""

    type: ClassVar[str] = "HetznerError"
    code: str = ""


class HetznerValidationError(HetznerError, ProviderValidationError):
    """The request was refused before it was sent (unknown server type, bad label...)."""

    type: ClassVar[str] = "HetznerValidationError"

    def __init__(self, problems: Sequence[str], *, subject: str = "create request") -> None:
        ProviderValidationError.__init__(self, problems, subject=subject, provider="Hetzner")


class HetznerBadRequest(HetznerError, ProviderBadRequest):
    """`invalid_input`, `uniqueness_error`, `json_error` and other refusals of the request."""

    type: ClassVar[str] = "HetznerBadRequest"


class HetznerAuthError(HetznerError, ProviderAuthError):
    """`unauthorized` / `forbidden`: the token is missing, wrong, revoked or read-only."""

    type: ClassVar[str] = "HetznerAuthError"


class HetznerNotFound(HetznerError, ProviderNotFound):
    type: ClassVar[str] = "HetznerNotFound"


class HetznerQuotaExceeded(HetznerError, ProviderQuotaExceeded):
    """`resource_limit_exceeded` / `server_limit_reached`: the project's limit is reached."""

    type: ClassVar[str] = "HetznerQuotaExceeded"


class HetznerRateLimited(HetznerError, ProviderRateLimited):
    type: ClassVar[str] = "HetznerRateLimited"


class HetznerServerError(HetznerError, ProviderServerError):
    """5xx, or `locked` / `conflict`: the resource is busy; retry shortly."""

    type: ClassVar[str] = "HetznerServerError"


class HetznerTransportError(HetznerError, ProviderTransportError):
    type: ClassVar[str] = "HetznerTransportError"


class HetznerProtocolError(HetznerError, ProviderProtocolError):
    type: ClassVar[str] = "HetznerProtocolError"


_BAD_REQUEST_CODES = frozenset(
    {"invalid_input", "uniqueness_error", "json_error", "invalid_request"}
)
_AUTH_CODES = frozenset({"unauthorized", "forbidden", "token_readonly"})
_QUOTA_CODES = frozenset({"resource_limit_exceeded", "server_limit_reached"})
_BUSY_CODES = frozenset({"locked", "conflict"})


def retry_after_from_headers(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the next request is admitted: the time to `RateLimit-Reset` (when the
    bucket is full again) spread over the requests still missing, else `Retry-After`."""
    try:
        reset = float(headers["RateLimit-Reset"])
        limit = int(headers["RateLimit-Limit"])
        remaining = int(headers.get("RateLimit-Remaining", "0"))
    except (KeyError, ValueError):
        pass
    else:
        if math.isfinite(reset):
            return max(1.0, (reset - now) / max(1, limit - remaining))
    try:
        seconds = float(headers.get("Retry-After", "nan"))
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def error_for(
    status: int,
    code: str,
    text: str,
    details: Any,
    *,
    where: str,
    idempotent: bool,
    retry_after: float | None,
) -> HetznerError:
    """The error for one error answer; `where` is "METHOD /path"."""
    common: dict[str, Any] = {"status": status, "error_text": text, "method": where.split()[0],
                              "path": where.split(" ", 1)[1]}  # fmt: skip
    said = f"{status} {code or 'error'} from Hetzner on {where}: {text or 'no message'}"
    error: HetznerError
    if code in _AUTH_CODES or (not code and status in (401, 403)):
        error = HetznerAuthError(
            f"{said}; check HCLOUD_TOKEN (wrong, revoked, or a read-only token for a write)",
            **common,
        )
    elif code in _QUOTA_CODES:
        error = HetznerQuotaExceeded(
            f"{said}; the project's server limit is reached: delete servers or ask Hetzner "
            "to raise the limit, retrying the same create fails the same way",
            **common,
        )
    elif code == "not_found" or (not code and status == 404):
        error = HetznerNotFound(
            f"{said}; it does not exist (already deleted, or a wrong id)", **common
        )
    elif code == "rate_limit_exceeded" or status == 429:
        wait = f"retry after {retry_after:g} s" if retry_after is not None else "retry with backoff"
        error = HetznerRateLimited(
            f"{said}; the project's request budget (3,600 per hour, one per second refilled) "
            f"is spent: {wait}",
            retry_after=retry_after,
            **common,
        )
    elif code in _BUSY_CODES:
        error = HetznerServerError(
            f"{said}; the resource is busy with an action: retry shortly", **common
        )
    elif status >= 500:
        ambiguous = not idempotent
        advice = (
            "the request may have been applied: look the server up by name before creating it again"
            if ambiguous
            else "Hetzner failed; retry with backoff"
        )
        error = HetznerServerError(f"{said}; {advice}", ambiguous=ambiguous, **common)
    elif code in _BAD_REQUEST_CODES or 400 <= status < 500:
        fields = _field_messages(details)
        error = HetznerBadRequest(
            f"{said}{fields}; fix the request, retrying it unchanged fails the same way", **common
        )
    else:
        error = HetznerProtocolError(
            f"unexpected {status} from Hetzner on {where}; check HCLOUD_API_URL",
            ambiguous=not idempotent and 200 <= status < 300,
            **common,
        )
    error.code = code
    return error


def _field_messages(details: Any) -> str:
    """` (name: message; ...)` from `details.fields`, the fields Hetzner refused."""
    fields = details.get("fields") if isinstance(details, dict) else None
    if not isinstance(fields, list):
        return ""
    parts = [
        f"{f.get('name')}: {', '.join(str(m) for m in f.get('messages') or [])}"
        for f in fields
        if isinstance(f, dict)
    ]
    return f" ({'; '.join(parts)})" if parts else ""
