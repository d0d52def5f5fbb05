"""Vultr's error body: `{"error": "...", "status": N}`."""

from __future__ import annotations

from starlette.responses import JSONResponse

from emulator.core.errors import ApiError

__all__ = ["error_response", "render"]


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def render(error: ApiError) -> JSONResponse:
    return error_response(error.status, error.message, error.headers)
