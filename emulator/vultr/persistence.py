"""How a Vultr instance is written to and read back from the state file."""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime
from typing import Any

from emulator.vultr.catalog import OS_BY_ID, PLAN_BY_ID
from emulator.vultr.store import Instance
from emulator.vultr.validation import CreateRequest

__all__ = ["InstanceCodec"]

_TIMES = ("created_at", "date_created", "deleted_at")


def _request_to_json(request: CreateRequest) -> dict[str, Any]:
    body = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
    body["plan"] = request.plan.id
    body["os"] = request.os.id
    body["user_data"] = base64.b64encode(request.user_data).decode()
    return body


def _request_from_json(body: dict[str, Any]) -> CreateRequest:
    return CreateRequest(
        **{
            **body,
            "plan": PLAN_BY_ID[body["plan"]],
            "os": OS_BY_ID[body["os"]],
            "user_data": base64.b64decode(body["user_data"]),
        }
    )


class InstanceCodec:
    def dump(self, instance: Instance) -> dict[str, Any]:
        body = {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}
        body["request"] = _request_to_json(instance.request)
        for name in _TIMES:
            moment = body[name]
            body[name] = moment.isoformat() if moment is not None else None
        return body

    def load(self, body: dict[str, Any]) -> Instance:
        times = {
            name: datetime.fromisoformat(body[name]) if body[name] is not None else None
            for name in _TIMES
        }
        return Instance(**{**body, **times, "request": _request_from_json(body["request"])})
