"""`create_app`: the emulator as an ASGI application (Starlette)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from emulator.admin import admin_routes
from emulator.api import api_routes
from emulator.config import EmulatorConfig
from emulator.errors import ApiError, error_response
from emulator.gate import ApiGate
from emulator.persistence import SaveOnChange, StateFile
from emulator.state import Emulator
from emulator.store import Clock

__all__ = ["create_app", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"No route for {request.method} {request.url.path}."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, dict(exc.headers or {}))


def create_app(config: EmulatorConfig | None = None, clock: Clock | None = None) -> Starlette:
    """A fresh emulator. `clock` returns the current time as an aware UTC datetime;
    tests pass their own to move time without waiting."""
    config = config or EmulatorConfig()
    emulator = Emulator.build(config, clock or utc_now)
    middleware = [
        Middleware(
            ApiGate,
            config=config,
            clock=emulator.clock,
            faults=emulator.faults,
            limiter=emulator.limiter,
            request_log=emulator.request_log,
        )
    ]
    state_file = StateFile(config.state_file) if config.state_file is not None else None
    if state_file is not None:
        state_file.load(emulator.store)
        middleware.append(Middleware(SaveOnChange, state_file=state_file, store=emulator.store))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if state_file is not None:
            state_file.save(emulator.store)

    app = Starlette(
        routes=[*api_routes(), *admin_routes()],
        middleware=middleware,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    return app
