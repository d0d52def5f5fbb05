"""The Vultr face as the core sees it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from emulator.core.errors import ApiError
from emulator.core.faults import FaultInjector
from emulator.core.persistence import RecordCodec
from emulator.vultr import errors
from emulator.vultr.api import api_routes
from emulator.vultr.config import EmulatorConfig
from emulator.vultr.persistence import InstanceCodec
from emulator.vultr.ratelimit import SlidingWindowLimiter
from emulator.vultr.routes import ROUTES
from emulator.vultr.store import InstanceStore

__all__ = ["VultrFace"]


class VultrFace:
    name = "Vultr"
    routes = ROUTES
    codec: RecordCodec[Any] = InstanceCodec()

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config

    def build_store(self) -> InstanceStore:
        return InstanceStore(self.config.seed, self.config.billing_period_seconds)

    def build_limiter(self) -> SlidingWindowLimiter:
        return SlidingWindowLimiter(self.config.rate_limit)

    def api_routes(self) -> list[BaseRoute]:
        return api_routes()

    def render(self, error: ApiError) -> Response:
        return errors.render(error)

    def unauthorized(self, token_given: bool) -> ApiError:
        if token_given:
            return ApiError(401, "Invalid API token: this API key is not accepted.")
        return ApiError(401, "Invalid API token: send 'Authorization: Bearer <API key>'.")

    def rate_limited(self, retry_after: int) -> ApiError:
        return ApiError(
            429,
            "Rate limit exceeded: too many requests per second; retry after the "
            "Retry-After header's seconds.",
            {"Retry-After": str(retry_after)},
        )

    def injected(self, status: int, retry_after: int | None) -> ApiError:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return ApiError(status, FaultInjector.message(status), headers)

    def unknown_route(self, status: int, message: str) -> ApiError:
        return ApiError(status, message)
