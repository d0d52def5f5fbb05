"""Hetzner's rate limit: a bucket per project (bearer token) of `capacity` requests,
refilled `refill_per_second`; every answer says `RateLimit-Limit`, `RateLimit-Remaining`
and `RateLimit-Reset` (Unix time at which the bucket is full again)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from starlette.types import Scope

from emulator.core.ratelimit import Admission, bearer_token, client_ip

__all__ = ["TokenBucketLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """A capacity of 0 admits everything and sends no headers. Refused requests cost nothing."""

    def __init__(self, capacity: int, refill_per_second: float) -> None:
        self._capacity = capacity
        self._refill = refill_per_second
        self._buckets: dict[str, _Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def admit(self, scope: Scope, now: float) -> Admission:
        if self._capacity <= 0:
            return Admission()
        # One bucket per project, i.e. per token; anonymous requests share one per address.
        key = bearer_token(scope) or f"ip:{client_ip(scope)}"
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self._capacity), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self._capacity), bucket.tokens + elapsed * self._refill)
        bucket.updated = now
        retry_after = None
        if bucket.tokens >= 1:
            bucket.tokens -= 1
        else:
            retry_after = max(1, math.ceil((1 - bucket.tokens) / self._refill))
        full_at = now + (self._capacity - bucket.tokens) / self._refill
        headers = {
            "RateLimit-Limit": str(self._capacity),
            "RateLimit-Remaining": str(math.floor(bucket.tokens)),
            "RateLimit-Reset": str(math.ceil(full_at)),
        }
        return Admission(retry_after=retry_after, headers=headers)
