"""What the gate asks of a face's rate-limit policy (Vultr: per client IP per second;
Hetzner: a per-project bucket with headers on every answer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from starlette.types import Scope

__all__ = ["Admission", "RateLimiter", "bearer_token", "client_ip"]


@dataclass(frozen=True, slots=True)
class Admission:
    """`retry_after` None: admitted. `headers` go on the answer either way."""

    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter(Protocol):
    def admit(self, scope: Scope, now: float) -> Admission: ...

    def reset(self) -> None: ...


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def bearer_token(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
            return ""
    return ""
