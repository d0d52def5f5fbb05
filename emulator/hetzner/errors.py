"""Hetzner's error body, `{"error": {"code", "message", "details"}}`, and its codes."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from emulator.core.errors import ApiError

__all__ = ["CODE_BY_STATUS", "hetzner_error", "invalid_field", "render"]

# The code an error gets when its raiser named none (HTTP status -> Hetzner code).
CODE_BY_STATUS = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    423: "locked",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "unavailable",
}


def hetzner_error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> ApiError:
    return ApiError(status, message, code=code, details=details)


def invalid_field(
    name: str, message: str, code: str = "invalid_input", status: int = 400
) -> ApiError:
    """A request field Hetzner refuses, named in `details.fields` as the API does."""
    details = {"fields": [{"name": name, "messages": [message]}]}
    return ApiError(
        status, f"invalid input in field '{name}': {message}", code=code, details=details
    )


def render(error: ApiError) -> JSONResponse:
    code = error.code or CODE_BY_STATUS.get(error.status, "server_error")
    body = {"error": {"code": code, "message": error.message, "details": error.details or {}}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)
