"""Checks on a `POST /v2/instances` body, answering 400 the way Vultr does."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from emulator.core.errors import ApiError
from emulator.vultr.catalog import (
    APPLICATION_OS_ID,
    CUSTOM_ISO_OS_ID,
    OS_BY_ID,
    PLAN_BY_ID,
    REGION_BY_ID,
    SNAPSHOT_OS_ID,
    OperatingSystem,
    Plan,
)

__all__ = ["MAX_USER_DATA_BYTES", "CreateRequest", "parse_create_request"]

MAX_USER_DATA_BYTES = 64 * 1024
_IMAGE_SOURCES = ("os_id", "iso_id", "snapshot_id", "app_id", "image_id")


@dataclass(frozen=True, slots=True)
class CreateRequest:
    region: str
    plan: Plan
    os: OperatingSystem
    app_id: int = 0
    image_id: str = ""
    snapshot_id: str = ""
    iso_id: str = ""
    label: str = ""
    hostname: str = ""
    tags: list[str] = field(default_factory=list)
    sshkey_ids: list[str] = field(default_factory=list)
    user_data: bytes = b""
    enable_ipv6: bool = False
    ddos_protection: bool = False
    backups: bool = False
    firewall_group_id: str = ""
    user_scheme: str = "root"


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string, got {type(value).__name__}.")
    return value


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(f"{name} must be a boolean (true or false), got {value!r}.")
    return value


def _string_array(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"{name} must be an array of strings, got {value!r}.")
    return list(value)


def _given(value: Any) -> bool:
    # Clients built on Go structs send zero values ("" or 0) for fields they do not set.
    return value is not None and value != "" and value != 0


def _region(body: dict[str, Any]) -> str:
    region = _string(body, "region")
    if not region:
        raise _bad('Missing region. Set "region" to a region id from GET /v2/regions.')
    if region not in REGION_BY_ID:
        raise _bad(f"Invalid region {region!r}. Use a region id from GET /v2/regions.")
    return region


def _plan(body: dict[str, Any], region: str) -> Plan:
    plan_id = _string(body, "plan")
    if not plan_id:
        raise _bad('Missing plan. Set "plan" to a plan id from GET /v2/plans.')
    plan = PLAN_BY_ID.get(plan_id)
    if plan is None:
        raise _bad(f"Invalid plan {plan_id!r}. Use a plan id from GET /v2/plans.")
    if region not in plan.locations:
        raise _bad(
            f"Plan {plan_id!r} is not available in region {region!r}; "
            f"it is offered in {', '.join(plan.locations)}."
        )
    return plan


def _user_data(body: dict[str, Any]) -> bytes:
    raw = _string(body, "user_data")
    if not raw:
        return b""
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad("Invalid user_data: it must be base64 encoded.") from exc
    if len(decoded) > MAX_USER_DATA_BYTES:
        raise _bad(
            f"Invalid user_data: {len(decoded)} bytes once decoded; the limit is "
            f"{MAX_USER_DATA_BYTES} bytes (64 KiB)."
        )
    return decoded


def parse_create_request(body: Any) -> CreateRequest:
    """Validate a create body; raises ApiError(400) naming the first problem found."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    region = _region(body)
    plan = _plan(body, region)

    sources = [name for name in _IMAGE_SOURCES if _given(body.get(name))]
    if not sources:
        raise _bad(
            "Missing operating system. Set exactly one of os_id, iso_id, snapshot_id, "
            "app_id or image_id."
        )
    if len(sources) > 1:
        raise _bad(
            f"Set only one of os_id, iso_id, snapshot_id, app_id or image_id; got "
            f"{' and '.join(sources)}."
        )
    source = sources[0]
    app_id, image_id, snapshot_id, iso_id = 0, "", "", ""
    if source == "os_id":
        os_id = body["os_id"]
        if not isinstance(os_id, int) or isinstance(os_id, bool):
            raise _bad(f"os_id must be an integer, got {os_id!r}.")
        os = OS_BY_ID.get(os_id)
        if os is None:
            raise _bad(f"Invalid os_id {os_id}. Use an id from GET /v2/os.")
    elif source == "app_id":
        app_id = body["app_id"]
        if not isinstance(app_id, int) or isinstance(app_id, bool):
            raise _bad(f"app_id must be an integer, got {app_id!r}.")
        os = OS_BY_ID[APPLICATION_OS_ID]
    elif source == "image_id":
        image_id = _string(body, "image_id")
        os = OS_BY_ID[APPLICATION_OS_ID]
    elif source == "snapshot_id":
        snapshot_id = _string(body, "snapshot_id")
        os = OS_BY_ID[SNAPSHOT_OS_ID]
    else:
        iso_id = _string(body, "iso_id")
        os = OS_BY_ID[CUSTOM_ISO_OS_ID]

    tags = _string_array(body, "tags")
    legacy_tag = _string(body, "tag")
    if legacy_tag and not tags:
        tags = [legacy_tag]

    backups = _string(body, "backups")
    if backups not in ("", "enabled", "disabled"):
        raise _bad(f'backups must be "enabled" or "disabled", got {backups!r}.')
    user_scheme = _string(body, "user_scheme") or "root"
    if user_scheme not in ("root", "limited"):
        raise _bad(f'user_scheme must be "root" or "limited", got {user_scheme!r}.')

    return CreateRequest(
        region=region,
        plan=plan,
        os=os,
        app_id=app_id,
        image_id=image_id,
        snapshot_id=snapshot_id,
        iso_id=iso_id,
        label=_string(body, "label"),
        hostname=_string(body, "hostname"),
        tags=tags,
        sshkey_ids=_string_array(body, "sshkey_id"),
        user_data=_user_data(body),
        enable_ipv6=_boolean(body, "enable_ipv6"),
        ddos_protection=_boolean(body, "ddos_protection"),
        backups=backups == "enabled",
        firewall_group_id=_string(body, "firewall_group_id"),
        user_scheme=user_scheme,
    )
