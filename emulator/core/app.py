"""`create_app`: an emulator (the core and one face) as an ASGI application (Starlette)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from emulator.core.admin import admin_routes
from emulator.core.clock import Clock, utc_now
from emulator.core.config import CoreConfig
from emulator.core.errors import ApiError
from emulator.core.gate import ApiGate
from emulator.core.persistence import SaveOnChange, StateFile
from emulator.core.state import Emulator, emulator_of

__all__ = ["create_app"]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return emulator_of(request).face.render(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"No route for {request.method} {request.url.path}."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    face = emulator_of(request).face
    error = face.unknown_route(exc.status_code, message)
    error.headers = {**error.headers, **dict(exc.headers or {})}
    return face.render(error)


def create_app(config: CoreConfig, clock: Clock | None = None) -> Starlette:
    """A fresh emulator serving `config`'s face. `clock` returns the current time as an
    aware UTC datetime; tests pass their own to move time without waiting."""
    emulator = Emulator.build(config, clock or utc_now)
    middleware = [
        Middleware(
            ApiGate,
            config=config,
            face=emulator.face,
            clock=emulator.clock,
            faults=emulator.faults,
            limiter=emulator.limiter,
            request_log=emulator.request_log,
        )
    ]
    state_file = (
        StateFile(config.state_file, emulator.face.codec) if config.state_file is not None else None
    )
    if state_file is not None:
        state_file.load(emulator.store)
        middleware.append(Middleware(SaveOnChange, state_file=state_file, store=emulator.store))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if state_file is not None:
            state_file.save(emulator.store)

    app = Starlette(
        routes=[*emulator.face.api_routes(), *admin_routes()],
        middleware=middleware,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    return app
