"""The DigitalOcean face as the core sees it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from emulator.core.errors import ApiError
from emulator.core.faults import FaultInjector
from emulator.core.persistence import RecordCodec
from emulator.digitalocean import errors
from emulator.digitalocean.api import api_routes
from emulator.digitalocean.config import DigitalOceanConfig
from emulator.digitalocean.persistence import DropletCodec
from emulator.digitalocean.ratelimit import TokenLimiter
from emulator.digitalocean.routes import ROUTES
from emulator.digitalocean.store import DropletStore

__all__ = ["DigitalOceanFace"]


class DigitalOceanFace:
    name = "DigitalOcean"
    routes = ROUTES
    codec: RecordCodec[Any] = DropletCodec()

    def __init__(self, config: DigitalOceanConfig) -> None:
        self.config = config

    def build_store(self) -> DropletStore:
        return DropletStore(self.config.seed)

    def build_limiter(self) -> TokenLimiter:
        return TokenLimiter(self.config.rate_limit, self.config.rate_limit_hourly)

    def api_routes(self) -> list[BaseRoute]:
        return api_routes()

    def render(self, error: ApiError) -> Response:
        return errors.render(error)

    def unauthorized(self, token_given: bool) -> ApiError:
        return ApiError(401, "Unable to authenticate you.")

    def rate_limited(self, retry_after: int) -> ApiError:
        # No Retry-After: DigitalOcean says when through ratelimit-reset (on every answer).
        return ApiError(429, "API Rate limit exceeded.")

    def injected(self, status: int, retry_after: int | None) -> ApiError:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return ApiError(status, FaultInjector.message(status), headers)

    def unknown_route(self, status: int, message: str) -> ApiError:
        return ApiError(status, message)
