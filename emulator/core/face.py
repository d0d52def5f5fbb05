"""What a provider's API (a face) gives the core: its routes, its store and rate-limit
policy, how it writes errors and servers, and what its gate refusals say."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.responses import Response
from starlette.routing import BaseRoute

from emulator.core.errors import ApiError
from emulator.core.persistence import RecordCodec
from emulator.core.ratelimit import RateLimiter
from emulator.core.routes import RouteTable
from emulator.core.store import RecordStore

__all__ = ["Face"]


class Face(Protocol):
    name: str  # for people: "Vultr"
    routes: RouteTable
    codec: RecordCodec[Any]  # a server in the state file

    def build_store(self) -> RecordStore[Any]: ...

    def build_limiter(self) -> RateLimiter: ...

    def api_routes(self) -> list[BaseRoute]: ...

    def render(self, error: ApiError) -> Response:
        """The provider's error body for `error`, with its status and headers."""

    def unauthorized(self, token_given: bool) -> ApiError: ...

    def rate_limited(self, retry_after: int) -> ApiError: ...

    def injected(self, status: int, retry_after: int | None) -> ApiError:
        """A failure from a fault rule (status 429, 500 or 503)."""

    def unknown_route(self, status: int, message: str) -> ApiError:
        """No such route (404) or method (405)."""
