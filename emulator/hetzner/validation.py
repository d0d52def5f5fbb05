"""Checks on a `POST /v1/servers` body, answering 400 `invalid_input` the way Hetzner does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from emulator.hetzner.catalog import (
    LOCATION_BY_NAME,
    SERVER_TYPES,
    Image,
    Location,
    ServerType,
    find_image,
    find_server_type,
)
from emulator.hetzner.errors import hetzner_error, invalid_field
from emulator.hetzner.labels import check_labels

__all__ = ["MAX_USER_DATA_BYTES", "CreateRequest", "parse_create_request"]

MAX_USER_DATA_BYTES = 32 * 1024
# RFC 1123 hostname labels joined by dots, at most 253 characters in all.
_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_KNOWN_FIELDS = frozenset(
    {
        "name", "server_type", "image", "location", "datacenter", "labels", "user_data",
        "ssh_keys", "start_after_create", "automount", "firewalls", "networks",
        "placement_group", "public_net", "volumes",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CreateRequest:
    name: str
    server_type: ServerType
    image: Image
    location: Location
    labels: dict[str, str] = field(default_factory=dict)
    user_data: str = ""
    ssh_keys: list[str] = field(default_factory=list)
    start_after_create: bool = True


def _reference(body: dict[str, Any], name: str) -> str:
    """A catalog reference: a name, or an id (a number, or a number written as a string)."""
    value = body.get(name)
    if value is None or value == "":
        raise invalid_field(name, "is required")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid_field(name, "must be a name or an id")
    return str(value)


def _server_type(body: dict[str, Any]) -> ServerType:
    ref = _reference(body, "server_type")
    server_type = find_server_type(ref)
    if server_type is None:
        known = ", ".join(t.name for t in SERVER_TYPES)
        raise invalid_field("server_type", f"server type {ref!r} not found; use one of {known}")
    return server_type


def _location(body: dict[str, Any], server_type: ServerType) -> Location:
    value = body.get("location")
    if value is None or value == "":
        dc = body.get("datacenter")
        value = (
            dc.rsplit("-", 1)[0] if isinstance(dc, str) and dc else next(iter(server_type.prices))
        )
    if not isinstance(value, str) and not isinstance(value, int):
        raise invalid_field("location", "must be a location name or id")
    location = LOCATION_BY_NAME.get(str(value)) or next(
        (loc for loc in LOCATION_BY_NAME.values() if str(loc.id) == str(value)), None
    )
    if location is None:
        known = ", ".join(LOCATION_BY_NAME)
        raise invalid_field("location", f"location {value!r} not found; use one of {known}")
    if location.name not in server_type.prices:
        raise hetzner_error(
            400,
            "invalid_input",
            f"server type {server_type.name} is not available in location {location.name}; "
            f"it is sold in {', '.join(server_type.prices)}",
            {"fields": [{"name": "location", "messages": ["unsupported for this server type"]}]},
        )
    return location


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise invalid_field(name, "must be an array of names or ids")
    return [str(v) for v in value]


def parse_create_request(body: Any) -> CreateRequest:
    """Validate a create body; raises ApiError naming the first problem found."""
    if not isinstance(body, dict):
        raise hetzner_error(400, "json_error", "The request body must be a JSON object.")
    unknown = sorted(set(body) - _KNOWN_FIELDS)
    if unknown:
        raise invalid_field(unknown[0], "unknown field")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid_field("name", "is required")
    if not _HOSTNAME.match(name):
        raise invalid_field("name", f"{name!r} is not a valid hostname (RFC 1123)")
    server_type = _server_type(body)
    image_ref = _reference(body, "image")
    image = find_image(image_ref, server_type.architecture)
    if image is None:
        raise invalid_field(
            "image", f"image {image_ref!r} not found for architecture {server_type.architecture}"
        )
    if image.architecture != server_type.architecture:
        raise invalid_field(
            "image",
            f"image {image_ref!r} is for {image.architecture}; server type "
            f"{server_type.name} needs {server_type.architecture}",
        )
    location = _location(body, server_type)
    user_data = body.get("user_data") or ""
    if not isinstance(user_data, str):
        raise invalid_field("user_data", "must be a string")
    if len(user_data.encode()) > MAX_USER_DATA_BYTES:
        raise invalid_field(
            "user_data", f"{len(user_data.encode())} bytes; the limit is {MAX_USER_DATA_BYTES}"
        )
    start = body.get("start_after_create", True)
    if not isinstance(start, bool):
        raise invalid_field("start_after_create", "must be a boolean")
    labels = check_labels(body.get("labels"))
    return CreateRequest(
        name=name,
        server_type=server_type,
        image=image,
        location=location,
        labels=labels,
        user_data=user_data,
        ssh_keys=_strings(body, "ssh_keys"),
        start_after_create=start,
    )
