"""DigitalOcean's rate limit: per token, at most `per_hour` requests in any hour and
`per_minute` in any minute. Every answer carries `ratelimit-limit` (the hourly limit),
`ratelimit-remaining` and `ratelimit-reset` (epoch seconds when a request is next
admitted by the window that is shortest of room)."""

from __future__ import annotations

import math
from collections import deque

from starlette.types import Scope

from emulator.core.ratelimit import Admission, bearer_token

__all__ = ["TokenLimiter"]

_MINUTE = 60.0
_HOUR = 3600.0


class TokenLimiter:
    """Refused requests are not counted; a limit of 0 turns that window off."""

    def __init__(self, per_minute: int, per_hour: int) -> None:
        self._windows = ((per_minute, _MINUTE), (per_hour, _HOUR))
        self._admitted: dict[str, tuple[deque[float], deque[float]]] = {}

    def reset(self) -> None:
        self._admitted.clear()

    def admit(self, scope: Scope, now: float) -> Admission:
        history = self._admitted.setdefault(bearer_token(scope), (deque(), deque()))
        refused_until: float | None = None
        for (limit, length), admitted in zip(self._windows, history, strict=True):
            while admitted and admitted[0] <= now - length:
                admitted.popleft()
            if limit > 0 and len(admitted) >= limit:
                until = admitted[0] + length
                refused_until = until if refused_until is None else max(refused_until, until)
        hourly_limit, _ = self._windows[1]
        hourly = history[1]
        if refused_until is not None:
            reset = math.ceil(refused_until)
            headers = self._headers(hourly_limit, 0, reset)
            return Admission(retry_after=max(1, math.ceil(refused_until - now)), headers=headers)
        for admitted in history:
            admitted.append(now)
        reset = math.ceil(hourly[0] + _HOUR) if hourly else math.ceil(now)
        remaining = max(0, hourly_limit - len(hourly)) if hourly_limit > 0 else 0
        return Admission(headers=self._headers(hourly_limit, remaining, reset))

    @staticmethod
    def _headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
        return {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(reset),
        }
