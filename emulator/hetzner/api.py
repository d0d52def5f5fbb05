"""Handlers for the Hetzner Cloud API v1 routes the face implements."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.core.errors import ApiError
from emulator.core.gate import DROP_RESPONSE_KEY
from emulator.core.routes import RouteTable
from emulator.core.state import Emulator, emulator_of
from emulator.hetzner.catalog import IMAGES, LOCATIONS, SERVER_TYPES
from emulator.hetzner.config import HetznerConfig
from emulator.hetzner.errors import hetzner_error, invalid_field
from emulator.hetzner.labels import parse_selector
from emulator.hetzner.pagination import paginate
from emulator.hetzner.store import Server, ServerStore, action_json
from emulator.hetzner.validation import parse_create_request

__all__ = ["api_routes"]

_STATUSES = frozenset(
    {"running", "initializing", "starting", "stopping", "off", "deleting", "migrating",
     "rebuilding", "unknown"}
)  # fmt: skip


class _NoResponse(Response):
    """Sends nothing: the gate closes the connection instead."""

    def __init__(self) -> None:
        super().__init__(status_code=201)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return None


def _store(emulator: Emulator) -> ServerStore:
    assert isinstance(emulator.store, ServerStore)
    return emulator.store


def _config(emulator: Emulator) -> HetznerConfig:
    assert isinstance(emulator.config, HetznerConfig)
    return emulator.config


def _id(request: Request, what: str) -> str:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise invalid_field("id", f"{raw!r} is not a {what} id (a positive integer)")
    return str(int(raw))


def _not_found(what: str, ident: str) -> ApiError:
    return hetzner_error(404, "not_found", f"{what} with ID '{ident}' not found")


def _shown_server(request: Request) -> Server:
    emulator = emulator_of(request)
    server_id = _id(request, "server")
    server = _store(emulator).find(server_id, emulator.now())
    if server is None:
        raise _not_found("server", server_id)
    return server


def _create_action(server: Server, emulator: Emulator) -> dict[str, Any]:
    return action_json(
        server.create_action_id,
        "create_server",
        server,
        server.created_at,
        _config(emulator).boot_seconds,
        emulator.now(),
    )


async def create_server(request: Request) -> Response:
    emulator = emulator_of(request)
    store, config = _store(emulator), _config(emulator)
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise hetzner_error(
            400, "json_error", f"The request body is not valid JSON: {exc}."
        ) from exc
    create = parse_create_request(body)
    now = emulator.now()
    if store.shown(now, create.name):
        raise hetzner_error(
            409,
            "uniqueness_error",
            f"server name {create.name!r} is already used in this project",
            {"fields": [{"name": "name", "messages": ["is not unique"]}]},
        )
    if config.server_limit and store.live_count() >= config.server_limit:
        raise hetzner_error(
            403,
            "resource_limit_exceeded",
            f"server limit exceeded: this project may have {config.server_limit} servers",
        )
    server = store.create(create, now)
    if emulator.faults.drop_create_response():
        request.scope[DROP_RESPONSE_KEY] = 201
        return _NoResponse()
    return JSONResponse(
        {
            "server": server.to_json(now, config.boot_seconds),
            "action": _create_action(server, emulator),
            "next_actions": [],
            "root_password": None if create.ssh_keys else server.root_password,
        },
        status_code=201,
    )


def _status_filter(request: Request) -> frozenset[str]:
    wanted = frozenset(request.query_params.getlist("status"))
    unknown = sorted(wanted - _STATUSES)
    if unknown:
        raise invalid_field("status", f"unknown status {unknown[0]!r}")
    return wanted


async def list_servers(request: Request) -> Response:
    emulator = emulator_of(request)
    store, config = _store(emulator), _config(emulator)
    now = emulator.now()
    query = request.query_params
    name = query.get("name") or None
    selector = query.get("label_selector")
    matches = parse_selector(selector) if selector else None
    statuses = _status_filter(request)
    if emulator.faults.ignores_list_filters():
        name, matches, statuses = None, None, frozenset()
    servers = [
        s
        for s in store.shown(now, name)
        if (matches is None or matches(s.labels))
        and (not statuses or s.status(now, config.boot_seconds) in statuses)
    ]
    page, meta = paginate(servers, query)
    return JSONResponse(
        {"servers": [s.to_json(now, config.boot_seconds) for s in page], "meta": meta}
    )


async def get_server(request: Request) -> Response:
    emulator = emulator_of(request)
    server = _shown_server(request)
    return JSONResponse({"server": server.to_json(emulator.now(), _config(emulator).boot_seconds)})


async def delete_server(request: Request) -> Response:
    emulator = emulator_of(request)
    server = _shown_server(request)
    if server.deleted_at is not None or emulator.faults.locked_delete():
        raise hetzner_error(
            423, "locked", f"server {server.server_id} is locked by a running action"
        )
    now = emulator.now()
    _store(emulator).request_delete(server, now)
    action = action_json(
        server.delete_action_id, "delete_server", server, now, _config(emulator).delete_seconds, now
    )
    return JSONResponse({"action": action})


async def get_action(request: Request) -> Response:
    emulator = emulator_of(request)
    action_id = _id(request, "action")
    found = _store(emulator).action(int(action_id))
    if found is None:
        raise _not_found("action", action_id)
    command, server = found
    config = _config(emulator)
    if command == "create_server":
        body = _create_action(server, emulator)
    else:
        assert server.deleted_at is not None
        body = action_json(
            server.delete_action_id, command, server, server.deleted_at,
            config.delete_seconds, emulator.now(),
        )  # fmt: skip
    return JSONResponse({"action": body})


def _catalog(key: str, items: list[dict[str, Any]], request: Request) -> Response:
    name = request.query_params.get("name")
    if name:
        items = [i for i in items if i["name"] == name]
    page, meta = paginate(items, request.query_params)
    return JSONResponse({key: page, "meta": meta})


async def list_server_types(request: Request) -> Response:
    return _catalog("server_types", [t.to_json() for t in SERVER_TYPES], request)


async def list_locations(request: Request) -> Response:
    return _catalog("locations", [loc.to_json() for loc in LOCATIONS], request)


async def list_images(request: Request) -> Response:
    arch = request.query_params.get("architecture")
    images = [i.to_json() for i in IMAGES if not arch or i.architecture == arch]
    return _catalog("images", images, request)


_HANDLERS: dict[str, Callable[[Request], Awaitable[Response]]] = {
    "POST /v1/servers": create_server,
    "GET /v1/servers": list_servers,
    "GET /v1/servers/{id}": get_server,
    "DELETE /v1/servers/{id}": delete_server,
    "GET /v1/actions/{id}": get_action,
    "GET /v1/server_types": list_server_types,
    "GET /v1/locations": list_locations,
    "GET /v1/images": list_images,
}


def api_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for template, handler in _HANDLERS.items():
        method = template.split(" ", 1)[0]
        routes.append(
            Route(RouteTable.starlette_path(template), handler, methods=[method], name=template)
        )
    return routes
