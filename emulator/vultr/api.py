"""Handlers for the Vultr API v2 routes the face implements."""

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
from emulator.vultr.catalog import OPERATING_SYSTEMS, PLANS, REGIONS
from emulator.vultr.config import EmulatorConfig
from emulator.vultr.pagination import paginate
from emulator.vultr.store import LIST_FILTERS, Instance, InstanceStore
from emulator.vultr.validation import parse_create_request

__all__ = ["api_routes"]

_LOCKED_MESSAGE = "Unable to destroy server: Unable to remove VM: Server is currently locked"
_ACLS = [
    "manage_users", "subscriptions_view", "subscriptions", "billing", "support",
    "provisioning", "dns", "abuse", "upgrade", "firewall", "alerts", "objstore",
    "loadbalancer",
]  # fmt: skip


class _NoResponse(Response):
    """Sends nothing: the gate closes the connection instead."""

    def __init__(self) -> None:
        super().__init__(status_code=202)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return None


def _store(emulator: Emulator) -> InstanceStore:
    assert isinstance(emulator.store, InstanceStore)
    return emulator.store


def _config(emulator: Emulator) -> EmulatorConfig:
    assert isinstance(emulator.config, EmulatorConfig)
    return emulator.config


def _not_found() -> ApiError:
    return ApiError(404, "instance not found")


def _live_instance(request: Request) -> Instance:
    instance = _store(emulator_of(request)).get(request.path_params["instance_id"])
    if instance is None:
        raise _not_found()
    return instance


async def create_instance(request: Request) -> Response:
    emulator = emulator_of(request)
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}.") from exc
    create = parse_create_request(body)
    now = emulator.now()
    instance = _store(emulator).create(create, now)
    if emulator.faults.drop_create_response():
        request.scope[DROP_RESPONSE_KEY] = 202
        return _NoResponse()
    body = instance.to_json(now, _config(emulator).boot_seconds, with_password=True)
    return JSONResponse({"instance": body}, status_code=202)


async def list_instances(request: Request) -> Response:
    emulator = emulator_of(request)
    query = request.query_params
    filters = {name: query[name] for name in LIST_FILTERS if query.get(name)}
    if emulator.faults.ignores_list_filters():
        filters = {}
    selected = _store(emulator).select(filters)
    page = paginate([i.seq for i in selected], selected, query)
    now = emulator.now()
    boot = _config(emulator).boot_seconds
    return JSONResponse(
        {"instances": [i.to_json(now, boot) for i in page.items], "meta": page.meta()}
    )


async def get_instance(request: Request) -> Response:
    emulator = emulator_of(request)
    instance = _live_instance(request)
    now = emulator.now()
    if (now - instance.created_at).total_seconds() < _config(emulator).get_404_seconds:
        raise _not_found()  # Vultr's lookups lag a create by a few seconds
    return JSONResponse({"instance": instance.to_json(now, _config(emulator).boot_seconds)})


async def delete_instance(request: Request) -> Response:
    emulator = emulator_of(request)
    instance = _live_instance(request)
    if emulator.faults.locked_delete():
        raise ApiError(500, _LOCKED_MESSAGE)
    _store(emulator).delete(instance, emulator.now())
    return Response(status_code=204)


async def halt_instance(request: Request) -> Response:
    _live_instance(request).halted = True  # still billed: only deletion stops billing
    return Response(status_code=204)


async def start_instance(request: Request) -> Response:
    _live_instance(request).halted = False
    return Response(status_code=204)


async def reboot_instance(request: Request) -> Response:
    _live_instance(request).halted = False
    return Response(status_code=204)


def _catalog(key: str, items: list[dict[str, Any]], request: Request) -> Response:
    page = paginate(range(len(items)), items, request.query_params)
    return JSONResponse({key: page.items, "meta": page.meta()})


async def list_regions(request: Request) -> Response:
    return _catalog("regions", [r.to_json() for r in REGIONS], request)


async def list_plans(request: Request) -> Response:
    wanted = request.query_params.get("type") or "all"
    plans = [p.to_json() for p in PLANS if wanted == "all" or p.type == wanted]
    return _catalog("plans", plans, request)


async def list_os(request: Request) -> Response:
    return _catalog("os", [o.to_json() for o in OPERATING_SYSTEMS], request)


async def get_account(request: Request) -> Response:
    emulator = emulator_of(request)
    pending = _store(emulator).pending_total(emulator.now())
    return JSONResponse(
        {
            "account": {
                "name": "Emulated Account",
                "email": "emulator@example.com",
                "acls": list(_ACLS),
                "balance": 0.0,
                "pending_charges": float(pending),
                "last_payment_date": "2024-01-01T00:00:00+00:00",
                "last_payment_amount": 0.0,
            }
        }
    )


async def pending_charges(request: Request) -> Response:
    emulator = emulator_of(request)
    return JSONResponse({"pending_charges": _store(emulator).pending_charges(emulator.now())})


_HANDLERS: dict[str, Callable[[Request], Awaitable[Response]]] = {
    "POST /v2/instances": create_instance,
    "GET /v2/instances": list_instances,
    "GET /v2/instances/{instance-id}": get_instance,
    "DELETE /v2/instances/{instance-id}": delete_instance,
    "POST /v2/instances/{instance-id}/halt": halt_instance,
    "POST /v2/instances/{instance-id}/start": start_instance,
    "POST /v2/instances/{instance-id}/reboot": reboot_instance,
    "GET /v2/regions": list_regions,
    "GET /v2/plans": list_plans,
    "GET /v2/os": list_os,
    "GET /v2/account": get_account,
    "GET /v2/billing/pending-charges": pending_charges,
}


def api_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for template, handler in _HANDLERS.items():
        method = template.split(" ", 1)[0]
        routes.append(
            Route(RouteTable.starlette_path(template), handler, methods=[method], name=template)
        )
    return routes
