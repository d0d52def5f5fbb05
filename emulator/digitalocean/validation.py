"""Checks on a `POST /v2/droplets` body, answering 422 the way DigitalOcean does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from emulator.core.errors import ApiError
from emulator.digitalocean.catalog import (
    IMAGE_BY_ID,
    IMAGE_BY_SLUG,
    REGION_BY_SLUG,
    SIZE_BY_SLUG,
    Image,
    Size,
)

__all__ = ["MAX_USER_DATA_BYTES", "NAME_PATTERN", "TAG_PATTERN", "CreateRequest", "parse_create"]

MAX_USER_DATA_BYTES = 64 * 1024
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$")  # from the spec
TAG_PATTERN = re.compile(r"^[a-zA-Z0-9_\-:]+$")  # letters, digits, colons, dashes, underscores
_MAX_TAG_LENGTH = 255


@dataclass(frozen=True, slots=True)
class CreateRequest:
    name: str
    region: str
    size: Size
    image: Image
    tags: list[str] = field(default_factory=list)
    ssh_keys: list[str] = field(default_factory=list)
    user_data: str = ""
    ipv6: bool = False
    backups: bool = False
    monitoring: bool = False


def _bad(message: str) -> ApiError:
    return ApiError(422, message, code="unprocessable_entity")


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string, got {type(value).__name__}.")
    return value


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _bad(f"{name} must be a boolean, got {value!r}.")
    return value


def _name(body: dict[str, Any]) -> str:
    if "names" in body:
        raise _bad("Creating several droplets at once (names) is not supported; send one name.")
    name = _string(body, "name")
    if not name:
        raise _bad("Name is required.")
    if len(name) > 255 or not NAME_PATTERN.fullmatch(name):
        raise _bad(
            f"Name {name!r} is invalid: use letters, digits, dots and dashes "
            "(at most 255), starting and ending with a letter or digit."
        )
    return name


def _region(body: dict[str, Any]) -> str:
    region = _string(body, "region")
    if not region:
        raise _bad("Region is required: set region to a slug from GET /v2/regions.")
    if region not in REGION_BY_SLUG:
        raise _bad(f"Region {region!r} is not available; use a slug from GET /v2/regions.")
    return region


def _size(body: dict[str, Any], region: str) -> Size:
    slug = _string(body, "size")
    if not slug:
        raise _bad("Size is required: set size to a slug from GET /v2/sizes.")
    size = SIZE_BY_SLUG.get(slug)
    if size is None:
        raise _bad(f"Size {slug!r} is not available; use a slug from GET /v2/sizes.")
    if region not in size.regions:
        raise _bad(
            f"Size {slug!r} is not available in region {region!r}; "
            f"it is offered in {', '.join(size.regions)}."
        )
    return size


def _image(body: dict[str, Any]) -> Image:
    value = body.get("image")
    if value is None or value == "":
        raise _bad("Image is required: set image to a slug or id from GET /v2/images.")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _bad(f"image must be a slug or an integer id, got {value!r}.")
    image = IMAGE_BY_ID.get(value) if isinstance(value, int) else IMAGE_BY_SLUG.get(value)
    if image is None:
        raise _bad(f"Image {value!r} is not available; use a slug or id from GET /v2/images.")
    return image


def _tags(body: dict[str, Any]) -> list[str]:
    value = body.get("tags")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise _bad(f"tags must be an array of strings, got {value!r}.")
    for tag in value:
        if len(tag) > _MAX_TAG_LENGTH or not TAG_PATTERN.fullmatch(tag):
            raise _bad(
                f"Tag {tag!r} is invalid: use letters, digits, colons, dashes and "
                f"underscores (at most {_MAX_TAG_LENGTH})."
            )
    return list(dict.fromkeys(value))


def _ssh_keys(body: dict[str, Any]) -> list[str]:
    value = body.get("ssh_keys")
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(k, (str, int)) and not isinstance(k, bool) for k in value
    ):
        raise _bad(f"ssh_keys must be an array of key ids or fingerprints, got {value!r}.")
    return [str(k) for k in value]


def _user_data(body: dict[str, Any]) -> str:
    user_data = _string(body, "user_data")
    size = len(user_data.encode())
    if size > MAX_USER_DATA_BYTES:
        raise _bad(f"user_data is {size} bytes; the limit is {MAX_USER_DATA_BYTES} (64 KiB).")
    return user_data


def parse_create(body: Any) -> CreateRequest:
    """Validate a create body; raises ApiError(422) naming the first problem found."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    name = _name(body)
    region = _region(body)
    return CreateRequest(
        name=name,
        region=region,
        size=_size(body, region),
        image=_image(body),
        tags=_tags(body),
        ssh_keys=_ssh_keys(body),
        user_data=_user_data(body),
        ipv6=_boolean(body, "ipv6"),
        backups=_boolean(body, "backups"),
        monitoring=_boolean(body, "monitoring"),
    )
