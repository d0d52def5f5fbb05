"""How a droplet is written to and read back from the state file."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from emulator.digitalocean.catalog import IMAGE_BY_ID, SIZE_BY_SLUG
from emulator.digitalocean.store import Droplet
from emulator.digitalocean.validation import CreateRequest

__all__ = ["DropletCodec"]

_TIMES = ("created_at", "created_shown", "deleted_at")


class DropletCodec:
    def dump(self, droplet: Droplet) -> dict[str, Any]:
        body = {f.name: getattr(droplet, f.name) for f in dataclasses.fields(droplet)}
        request = {
            f.name: getattr(droplet.request, f.name) for f in dataclasses.fields(CreateRequest)
        }
        body["request"] = {
            **request,
            "size": droplet.request.size.slug,
            "image": droplet.request.image.id,
        }
        for name in _TIMES:
            moment = body[name]
            body[name] = moment.isoformat() if moment is not None else None
        return body

    def load(self, body: dict[str, Any]) -> Droplet:
        times = {
            name: datetime.fromisoformat(body[name]) if body[name] is not None else None
            for name in _TIMES
        }
        raw = body["request"]
        request = CreateRequest(
            **{**raw, "size": SIZE_BY_SLUG[raw["size"]], "image": IMAGE_BY_ID[raw["image"]]}
        )
        return Droplet(**{**body, **times, "request": request})
