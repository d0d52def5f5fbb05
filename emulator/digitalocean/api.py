"""Handlers for the DigitalOcean API v2 routes the face implements, and its
`/admin/ledger` (per-second billing, which the core's per-period ledger cannot express)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from fractions import Fraction
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.core.errors import ApiError
from emulator.core.gate import DROP_RESPONSE_KEY
from emulator.core.routes import RouteTable
from emulator.core.state import Emulator, emulator_of
from emulator.digitalocean import billing
from emulator.digitalocean.catalog import IMAGES, REGIONS, SIZES
from emulator.digitalocean.config import DigitalOceanConfig
from emulator.digitalocean.pagination import paginate
from emulator.digitalocean.store import LIST_FILTERS, Droplet, DropletStore, format_time
from emulator.digitalocean.validation import parse_create

__all__ = ["api_routes", "ledger_row"]

_PENDING_EVENT = "Droplet already has a pending event."


class _NoResponse(Response):
    """Sends nothing: the gate closes the connection instead."""

    def __init__(self) -> None:
        super().__init__(status_code=202)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return None


def _store(emulator: Emulator) -> DropletStore:
    assert isinstance(emulator.store, DropletStore)
    return emulator.store


def _config(emulator: Emulator) -> DigitalOceanConfig:
    assert isinstance(emulator.config, DigitalOceanConfig)
    return emulator.config


def _live_droplet(request: Request) -> Droplet:
    droplet = _store(emulator_of(request)).get(request.path_params["droplet_id"])
    if droplet is None:
        raise ApiError(404, "The resource you were accessing could not be found.")
    return droplet


async def create_droplet(request: Request) -> Response:
    emulator = emulator_of(request)
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}.") from exc
    create = parse_create(body)
    now = emulator.now()
    droplet = _store(emulator).create(create, now)
    if emulator.faults.drop_create_response():
        request.scope[DROP_RESPONSE_KEY] = 202
        return _NoResponse()
    action_id = 2_000_000_000 + droplet.seq
    links = {
        "actions": [
            {
                "id": action_id,
                "rel": "create",
                "href": str(request.url.replace(path=f"/v2/actions/{action_id}", query="")),
            },
        ]
    }
    shown = droplet.to_json(now, _config(emulator).boot_seconds)
    return JSONResponse({"droplet": shown, "links": links}, status_code=202)


async def list_droplets(request: Request) -> Response:
    emulator = emulator_of(request)
    query = request.query_params
    filters = {name: query[name] for name in LIST_FILTERS if query.get(name)}
    if emulator.faults.ignores_list_filters():
        filters = {}
    page = paginate(_store(emulator).select(filters), request.url)
    now = emulator.now()
    boot = _config(emulator).boot_seconds
    return JSONResponse(page.envelope("droplets", [d.to_json(now, boot) for d in page.items]))


async def get_droplet(request: Request) -> Response:
    emulator = emulator_of(request)
    droplet = _live_droplet(request)
    shown = droplet.to_json(emulator.now(), _config(emulator).boot_seconds)
    return JSONResponse({"droplet": shown})


async def delete_droplet(request: Request) -> Response:
    emulator = emulator_of(request)
    droplet = _live_droplet(request)
    if emulator.faults.locked_delete():
        raise ApiError(422, _PENDING_EVENT, code="unprocessable_entity")
    _store(emulator).delete(droplet, emulator.now())
    return Response(status_code=204)


def _catalog(key: str, items: list[dict[str, Any]], request: Request) -> Response:
    page = paginate(items, request.url)
    return JSONResponse(page.envelope(key, page.items))


async def list_sizes(request: Request) -> Response:
    return _catalog("sizes", [s.to_json() for s in SIZES], request)


async def list_regions(request: Request) -> Response:
    return _catalog("regions", [r.to_json() for r in REGIONS], request)


async def list_images(request: Request) -> Response:
    return _catalog("images", [i.to_json() for i in IMAGES], request)


def ledger_row(
    droplet: Droplet, now: datetime, period_seconds: float
) -> tuple[dict[str, Any], Fraction]:
    """A droplet's `/admin/ledger` row, and what it has cost (exactly)."""
    req = droplet.request
    end = droplet.deleted_at if droplet.deleted_at is not None else now
    charge = billing.charge(req.size, droplet.created_shown, end, period_seconds)
    row = {
        "instance_id": droplet.id,
        "name": req.name,
        "tags": list(req.tags),
        "region": req.region,
        "size": req.size.slug,
        "created_at": format_time(droplet.created_shown),
        "deleted_at": format_time(droplet.deleted_at) if droplet.deleted_at else None,
        "seconds": charge.seconds,
        "price_hourly": float(req.size.hourly_price),
        "total": float(charge.total),
    }
    return row, charge.total


async def ledger(request: Request) -> Response:
    emulator = emulator_of(request)
    now = emulator.now()
    period = emulator.config.billing_period_seconds
    rows: list[dict[str, Any]] = []
    total = Fraction(0)
    for droplet in _store(emulator).everything():
        row, amount = ledger_row(droplet, now, period)
        rows.append(row)
        total += amount
    return JSONResponse({"ledger": rows, "total": float(total)})


_HANDLERS: dict[str, Callable[[Request], Awaitable[Response]]] = {
    "POST /v2/droplets": create_droplet,
    "GET /v2/droplets": list_droplets,
    "GET /v2/droplets/{droplet_id}": get_droplet,
    "DELETE /v2/droplets/{droplet_id}": delete_droplet,
    "GET /v2/sizes": list_sizes,
    "GET /v2/regions": list_regions,
    "GET /v2/images": list_images,
}


def api_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        # Listed before the core's admin routes, so this ledger answers /admin/ledger.
        Route("/admin/ledger", ledger, methods=["GET"]),
    ]
    for template, handler in _HANDLERS.items():
        method = template.split(" ", 1)[0]
        routes.append(
            Route(RouteTable.starlette_path(template), handler, methods=[method], name=template)
        )
    return routes
