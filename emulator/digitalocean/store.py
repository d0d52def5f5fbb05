"""Droplets: every one ever created (deleted ones kept for the ledger), what a droplet
shows at a given time (`new` while booting, then `active`), indexed by tag and name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.core.store import RecordStore
from emulator.digitalocean.catalog import REGION_BY_SLUG
from emulator.digitalocean.validation import CreateRequest

__all__ = ["LIST_FILTERS", "Droplet", "DropletStore", "format_time"]

# GET /v2/droplets query parameters that select droplets, by exact match.
LIST_FILTERS = ("tag_name", "name")
_FIRST_ID = 480_000_000


def format_time(moment: datetime) -> str:
    """ISO 8601 in whole seconds with a `Z`, as DigitalOcean writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Droplet:
    id: str  # the integer id, as the store keys it
    seq: int
    request: CreateRequest
    created_at: datetime  # when the create was answered; drives the boot sequence
    created_shown: datetime  # whole seconds, as shown: the billing anchor
    ipv4: str
    ipv6: str
    vpc_uuid: str
    deleted_at: datetime | None = None
    filter_values: dict[str, list[str]] = field(default_factory=dict)

    def status(self, now: datetime, boot_seconds: float) -> str:
        return "new" if (now - self.created_at).total_seconds() < boot_seconds else "active"

    def to_json(self, now: datetime, boot_seconds: float) -> dict[str, Any]:
        req = self.request
        status = self.status(now, boot_seconds)
        booting = status == "new"
        v4 = (
            []
            if booting
            else [
                {
                    "ip_address": self.ipv4,
                    "netmask": "255.255.240.0",
                    "gateway": self.ipv4.rsplit(".", 1)[0] + ".1",
                    "type": "public",
                },
            ]
        )
        v6 = (
            []
            if booting or not req.ipv6
            else [
                {
                    "ip_address": self.ipv6,
                    "netmask": 64,
                    "gateway": self.ipv6.rsplit(":", 1)[0] + ":1",
                    "type": "public",
                },
            ]
        )
        features = ["droplet_agent", *(["ipv6"] if req.ipv6 else [])]
        features += ["backups"] if req.backups else []
        features += ["monitoring"] if req.monitoring else []
        return {
            "id": int(self.id),
            "name": req.name,
            "memory": req.size.memory,
            "vcpus": req.size.vcpus,
            "disk": req.size.disk,
            "disk_info": [{"type": "local", "size": {"amount": req.size.disk, "unit": "gib"}}],
            "locked": False,
            "status": status,
            "kernel": None,
            "created_at": format_time(self.created_shown),
            "features": features,
            "backup_ids": [],
            "next_backup_window": None,
            "snapshot_ids": [],
            "image": req.image.to_json(),
            "volume_ids": [],
            "size": req.size.to_json(),
            "size_slug": req.size.slug,
            "networks": {"v4": v4, "v6": v6},
            "region": REGION_BY_SLUG[req.region].to_json(),
            "tags": list(req.tags),
            "vpc_uuid": self.vpc_uuid,
        }


class DropletStore(RecordStore[Droplet]):
    """All droplets ever created in this account (deleted ones kept for billing)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed, LIST_FILTERS)

    def create(self, request: CreateRequest, now: datetime) -> Droplet:
        seq = self.next_seq()
        rng = self.rng
        # Increasing and unique, with gaps as real ids have.
        droplet_id = _FIRST_ID + seq * 16 + rng.getrandbits(4)
        block, host = divmod(seq, 252)
        droplet = Droplet(
            id=str(droplet_id),
            seq=seq,
            request=request,
            created_at=now,
            created_shown=now.replace(microsecond=0),
            ipv4=f"159.{89 + (block // 256) % 4}.{block % 256}.{host + 2}",
            ipv6=f"2a03:b0c0:{rng.getrandbits(16):x}:d0::{rng.getrandbits(16):x}:{seq + 1:x}",
            vpc_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )
        droplet.filter_values = {"tag_name": list(request.tags), "name": [request.name]}
        self.add(droplet)
        return droplet
