"""Hetzner servers on the core store: creation, the status they show over time
(initializing, starting, running; deleting after a delete until they are gone), their
actions, and their tariff (every started hour, a month capped at the monthly price).

A deleted server leaves the core store's live set at once (billing stops at the delete
request) but is still shown, as `deleting`, for `delete_seconds`; its name stays taken
until then, as on Hetzner.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from emulator.core.clock import format_time
from emulator.core.ledger import Tariff
from emulator.core.store import RecordStore
from emulator.hetzner.catalog import Price
from emulator.hetzner.validation import CreateRequest

__all__ = ["LIST_FILTERS", "Server", "ServerStore"]

LIST_FILTERS = ("name",)
_ID_BASE = 50_000_000
_ACTION_BASE = 900_000_000
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
# Fraction of boot time spent initializing (no address yet) before starting.
_INITIALIZING_FRACTION = 0.4


@dataclass(slots=True)
class Server:
    id: str
    seq: int
    request: CreateRequest
    created_at: datetime  # when the create was answered; drives the boot sequence
    created: datetime  # whole seconds, as shown; the billing anchor
    ipv4: str
    ipv6_prefix: str  # the /64, without "::/64"
    root_password: str
    deleted_at: datetime | None = None  # when the delete was asked; billing ends here
    filter_values: dict[str, list[str]] = field(default_factory=dict)

    @property
    def server_id(self) -> int:
        return int(self.id)

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def labels(self) -> dict[str, str]:
        return self.request.labels

    @property
    def price(self) -> Price:
        return self.request.server_type.prices[self.request.location.name]

    @property
    def create_action_id(self) -> int:
        return _ACTION_BASE + 2 * self.seq

    @property
    def delete_action_id(self) -> int:
        return _ACTION_BASE + 2 * self.seq + 1

    # -- ledger (core/ledger.py) ----------------------------------------------------------

    @property
    def billing_anchor(self) -> datetime:
        return self.created

    def tariff(self) -> Tariff:
        price = self.price
        return Tariff(price.hourly_fraction, price.month_cap_hours, price.monthly_fraction)

    def ledger_fields(self) -> dict[str, Any]:
        return {
            "server_id": self.server_id,
            "name": self.name,
            "labels": dict(self.labels),
            "location": self.request.location.name,
            "server_type": self.request.server_type.name,
        }

    # -- what it shows --------------------------------------------------------------------

    def status(self, now: datetime, boot_seconds: float) -> str:
        if self.deleted_at is not None:
            return "deleting"
        elapsed = (now - self.created_at).total_seconds()
        if boot_seconds > 0 and elapsed < boot_seconds * _INITIALIZING_FRACTION:
            return "initializing"
        if boot_seconds > 0 and elapsed < boot_seconds:
            return "starting"
        return "running" if self.request.start_after_create else "off"

    def to_json(self, now: datetime, boot_seconds: float) -> dict[str, Any]:
        req = self.request
        status = self.status(now, boot_seconds)
        addressed = status != "initializing"
        return {
            "id": self.server_id,
            "name": req.name,
            "status": status,
            "created": format_time(self.created),
            "public_net": {
                "ipv4": (
                    {"id": self.server_id, "ip": self.ipv4, "blocked": False,
                     "dns_ptr": f"static.{self.ipv4}.clients.your-server.de"}
                    if addressed else None
                ),
                "ipv6": (
                    {"id": self.server_id, "ip": f"{self.ipv6_prefix}::/64", "blocked": False,
                     "dns_ptr": []}
                    if addressed else None
                ),
                "floating_ips": [],
                "firewalls": [],
            },
            "private_net": [],
            "server_type": req.server_type.to_json(),
            "datacenter": req.location.datacenter_json(),
            "location": req.location.to_json(),
            "image": req.image.to_json(),
            "iso": None,
            "rescue_enabled": False,
            "locked": status in ("initializing", "deleting"),
            "backup_window": None,
            "outgoing_traffic": 0,
            "ingoing_traffic": 0,
            "included_traffic": self.price.included_traffic_tb * 1024**4,
            "protection": {"delete": False, "rebuild": False},
            "labels": dict(req.labels),
            "volumes": [],
            "load_balancers": [],
            "primary_disk_size": req.server_type.disk,
            "placement_group": None,
        }  # fmt: skip


def action_json(
    action_id: int, command: str, server: Server, started: datetime, seconds: float, now: datetime
) -> dict[str, Any]:
    """An action that runs from `started` for `seconds`, then has succeeded."""
    done = now >= started + timedelta(seconds=seconds)
    elapsed = (now - started).total_seconds()
    progress = 100 if done else max(0, min(99, int(100 * elapsed / seconds)))
    return {
        "id": action_id,
        "command": command,
        "status": "success" if done else "running",
        "progress": progress,
        "started": format_time(started),
        "finished": format_time(started + timedelta(seconds=seconds)) if done else None,
        "resources": [{"id": server.server_id, "type": "server"}],
        "error": None,
    }


class ServerStore(RecordStore[Server]):
    """Every server ever created in this project, deleted ones kept for billing."""

    def __init__(self, seed: int, delete_seconds: float) -> None:
        self.delete_seconds = delete_seconds
        super().__init__(seed, LIST_FILTERS)

    def reset(self) -> None:
        super().reset()
        self._deleting: dict[str, Server] = {}  # deleted, still shown: oldest first
        self._actions: dict[int, tuple[str, Server]] = {}

    def add(self, record: Server) -> None:
        super().add(record)
        self._actions[record.create_action_id] = ("create_server", record)
        if record.deleted_at is not None:
            self._actions[record.delete_action_id] = ("delete_server", record)
            self._deleting[record.id] = record

    def create(self, request: CreateRequest, now: datetime) -> Server:
        seq = self.next_seq()
        rng = self.rng
        server = Server(
            id=str(_ID_BASE + seq),
            seq=seq,
            request=request,
            created_at=now,
            created=now.replace(microsecond=0),
            ipv4=f"116.{203 + (seq // 65024) % 50}.{(seq // 254) % 256}.{seq % 254 + 1}",
            ipv6_prefix=f"2a01:4f8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}",
            root_password="".join(rng.choices(_PASSWORD_ALPHABET, k=20)),
        )
        server.filter_values = {"name": [request.name]}
        self.add(server)
        return server

    def request_delete(self, server: Server, now: datetime) -> None:
        self.delete(server, now)
        self._actions[server.delete_action_id] = ("delete_server", server)
        self._deleting[server.id] = server

    def _still_deleting(self, now: datetime) -> list[Server]:
        window = timedelta(seconds=self.delete_seconds)
        for key, server in list(self._deleting.items()):
            assert server.deleted_at is not None
            if now >= server.deleted_at + window:
                del self._deleting[key]
        return list(self._deleting.values())

    def find(self, server_id: str, now: datetime) -> Server | None:
        """A server that is shown: live, or deleting."""
        server = self.get(server_id)
        if server is not None:
            return server
        return next((s for s in self._still_deleting(now) if s.id == server_id), None)

    def shown(self, now: datetime, name: str | None = None) -> list[Server]:
        """Live and deleting servers (only those named `name` if given), oldest first."""
        live = self.select({"name": name} if name else {})
        deleting = [s for s in self._still_deleting(now) if name is None or s.name == name]
        return sorted([*live, *deleting], key=lambda s: s.seq)

    def action(self, action_id: int) -> tuple[str, Server] | None:
        return self._actions.get(action_id)
