"""The Hetzner face as the core sees it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from emulator.core.errors import ApiError
from emulator.core.persistence import RecordCodec
from emulator.hetzner import errors
from emulator.hetzner.api import api_routes
from emulator.hetzner.config import HetznerConfig
from emulator.hetzner.persistence import ServerCodec
from emulator.hetzner.ratelimit import TokenBucketLimiter
from emulator.hetzner.routes import ROUTES
from emulator.hetzner.store import ServerStore

__all__ = ["HetznerFace"]

_INJECTED = {
    429: ("rate_limit_exceeded", "limit of requests per hour reached"),
    500: ("server_error", "internal server error"),
    503: ("unavailable", "service temporarily unavailable"),
}


class HetznerFace:
    name = "Hetzner Cloud"
    routes = ROUTES
    codec: RecordCodec[Any] = ServerCodec()

    def __init__(self, config: HetznerConfig) -> None:
        self.config = config

    def build_store(self) -> ServerStore:
        return ServerStore(self.config.seed, self.config.delete_seconds)

    def build_limiter(self) -> TokenBucketLimiter:
        return TokenBucketLimiter(self.config.rate_limit, self.config.rate_limit_refill_per_second)

    def api_routes(self) -> list[BaseRoute]:
        return api_routes()

    def render(self, error: ApiError) -> Response:
        return errors.render(error)

    def unauthorized(self, token_given: bool) -> ApiError:
        message = (
            "unable to authenticate: this API token is not accepted"
            if token_given
            else "unable to authenticate: send 'Authorization: Bearer <API token>'"
        )
        return errors.hetzner_error(401, "unauthorized", message)

    def rate_limited(self, retry_after: int) -> ApiError:
        error = errors.hetzner_error(
            429, "rate_limit_exceeded", "limit of requests per hour reached"
        )
        error.headers = {"Retry-After": str(retry_after)}
        return error

    def injected(self, status: int, retry_after: int | None) -> ApiError:
        code, message = _INJECTED[status]
        error = errors.hetzner_error(status, code, message)
        if retry_after:
            error.headers = {"Retry-After": str(retry_after)}
        return error

    def unknown_route(self, status: int, message: str) -> ApiError:
        code = "not_found" if status == 404 else errors.CODE_BY_STATUS.get(status, "invalid_input")
        return errors.hetzner_error(status, code, message)
