"""DigitalOcean's error body: `{"id": "not_found", "message": "...", "request_id": "..."}`."""

from __future__ import annotations

import uuid

from starlette.responses import JSONResponse

from emulator.core.errors import ApiError

__all__ = ["ERROR_IDS", "render"]

# The `id` DigitalOcean gives each status, when the error names none itself.
ERROR_IDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "server_error",
    503: "service_unavailable",
}


def render(error: ApiError) -> JSONResponse:
    body = {
        "id": error.code or ERROR_IDS.get(error.status, "error"),
        "message": error.message,
        "request_id": str(uuid.uuid4()),
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers)
