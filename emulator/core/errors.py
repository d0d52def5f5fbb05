"""A refused request, independent of how a provider writes its error body (the face
renders it: Face.error_response)."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError"]


class ApiError(Exception):
    """A request the API refuses. `code` and `details` are for faces whose error body
    carries them (Hetzner's `{"error": {"code", "message", "details"}}`)."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code
        self.details = details
