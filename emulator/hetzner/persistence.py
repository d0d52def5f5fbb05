"""How a Hetzner server is written to and read back from the state file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.hetzner.catalog import IMAGE_BY_ID, LOCATION_BY_NAME, SERVER_TYPE_BY_NAME
from emulator.hetzner.store import Server
from emulator.hetzner.validation import CreateRequest

__all__ = ["ServerCodec"]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


class ServerCodec:
    def dump(self, server: Server) -> dict[str, Any]:
        req = server.request
        return {
            "id": server.id,
            "seq": server.seq,
            "request": {
                "name": req.name,
                "server_type": req.server_type.name,
                "image": req.image.id,
                "location": req.location.name,
                "labels": req.labels,
                "user_data": req.user_data,
                "ssh_keys": req.ssh_keys,
                "start_after_create": req.start_after_create,
            },
            "created_at": server.created_at.isoformat(),
            "created": server.created.isoformat(),
            "ipv4": server.ipv4,
            "ipv6_prefix": server.ipv6_prefix,
            "root_password": server.root_password,
            "deleted_at": server.deleted_at.isoformat() if server.deleted_at else None,
            "filter_values": server.filter_values,
        }

    def load(self, body: dict[str, Any]) -> Server:
        req = body["request"]
        request = CreateRequest(
            **{
                **req,
                "server_type": SERVER_TYPE_BY_NAME[req["server_type"]],
                "image": IMAGE_BY_ID[req["image"]],
                "location": LOCATION_BY_NAME[req["location"]],
            }
        )
        created_at, created = _time(body["created_at"]), _time(body["created"])
        assert created_at is not None and created is not None
        return Server(
            **{
                **body,
                "request": request,
                "created_at": created_at,
                "created": created,
                "deleted_at": _time(body["deleted_at"]),
            }
        )
