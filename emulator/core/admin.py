"""Routes outside the API prefix for tests and demos: health, reset, request log, ledger,
faults, config. They need no token and are never rate-limited."""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.core.errors import ApiError
from emulator.core.faults import FaultConfig
from emulator.core.state import emulator_of

__all__ = ["admin_routes"]


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def reset(request: Request) -> Response:
    emulator_of(request).reset()
    return JSONResponse({"ok": True})


async def requests_log(request: Request) -> Response:
    return JSONResponse({"requests": emulator_of(request).request_log.entries()})


async def ledger(request: Request) -> Response:
    emulator = emulator_of(request)
    rows, total = emulator.ledger.rows(emulator.store.everything(), emulator.now())
    return JSONResponse({"ledger": rows, "total": float(total)})


async def get_faults(request: Request) -> Response:
    return JSONResponse(emulator_of(request).faults.snapshot())


async def replace_faults(request: Request) -> Response:
    try:
        config = FaultConfig.model_validate_json(await request.body() or b"{}")
        config.check_routes(emulator_of(request).face.routes.known)
    except ValidationError as exc:
        details = json.dumps(exc.errors(include_url=False, include_context=False), default=str)
        raise ApiError(400, f"Invalid fault configuration: {details}") from exc
    except ValueError as exc:
        raise ApiError(400, f"Invalid fault configuration: {exc}") from exc
    faults = emulator_of(request).faults
    faults.replace(config)
    return JSONResponse(faults.snapshot())


async def clear_faults(request: Request) -> Response:
    faults = emulator_of(request).faults
    faults.clear()
    return JSONResponse(faults.snapshot())


async def get_config(request: Request) -> Response:
    return JSONResponse(emulator_of(request).config.public_view())


def admin_routes() -> list[Route]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/admin/reset", reset, methods=["POST"]),
        Route("/admin/requests", requests_log, methods=["GET"]),
        Route("/admin/ledger", ledger, methods=["GET"]),
        Route("/admin/faults", get_faults, methods=["GET"]),
        Route("/admin/faults", replace_faults, methods=["POST"]),
        Route("/admin/faults", clear_faults, methods=["DELETE"]),
        Route("/admin/config", get_config, methods=["GET"]),
    ]
