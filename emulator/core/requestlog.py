"""The most recent API requests, for GET /admin/requests."""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["REQUEST_LOG_SIZE", "RequestLog"]

REQUEST_LOG_SIZE = 50_000


class RequestLog:
    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def append(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)
