"""Vultr's rate limit: requests per client IP over a sliding one-second window."""

from __future__ import annotations

import math
from collections import deque

from starlette.types import Scope

from emulator.core.ratelimit import Admission, client_ip

__all__ = ["SlidingWindowLimiter"]

_WINDOW_SECONDS = 1.0


class SlidingWindowLimiter:
    """Admits at most `limit` requests per client in any one-second window.

    Rejected requests are not counted, so a client that backs off for the
    `Retry-After` it was given is admitted again. A limit of 0 admits everything.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._admitted: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._admitted.clear()

    def admit(self, scope: Scope, now: float) -> Admission:
        return Admission(retry_after=self.check(client_ip(scope), now))

    def check(self, client: str, now: float) -> int | None:
        """Admit and return None, or return the whole seconds to wait (at least 1)."""
        if self._limit <= 0:
            return None
        window = self._admitted.get(client)
        if window is None:
            window = self._admitted[client] = deque()
        horizon = now - _WINDOW_SECONDS
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) < self._limit:
            window.append(now)
            return None
        return max(1, math.ceil(window[0] + _WINDOW_SECONDS - now))
