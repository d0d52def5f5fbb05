"""The account's instances: creation, lifecycle over time, lookups, and what they cost.

Everything lives in memory, indexed by id and by each list filter, so a lookup
never scans the account. The state an instance shows (pending, locked, ok) is
derived from the emulator clock when it is read, not advanced by a background task.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from emulator import billing
from emulator.catalog import Plan
from emulator.validation import CreateRequest

__all__ = [
    "LIST_FILTERS",
    "Clock",
    "Instance",
    "InstanceStore",
    "format_time",
    "product_name",
]

Clock = Callable[[], datetime]

# GET /v2/instances query parameters that select instances, by exact match.
LIST_FILTERS = ("label", "tag", "region", "main_ip", "hostname")

# Fraction of boot time spent pending before the server shows an IP, locked and stopped.
_PENDING_FRACTION = 0.4
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "#$%&*+-=?@[]{}"
_PRODUCTS = {
    "vc2": "Cloud Compute",
    "vhf": "High Frequency Compute",
    "vhp": "High Performance",
    "vcg": "Cloud GPU",
}


def format_time(moment: datetime) -> str:
    """Vultr's timestamp format: `2024-01-01T00:00:00+00:00`."""
    return moment.isoformat(timespec="seconds")


def product_name(plan: Plan) -> str:
    return _PRODUCTS.get(plan.type, "Cloud Compute")


@dataclass(slots=True)
class Instance:
    id: str
    seq: int
    request: CreateRequest
    hostname: str
    created_at: datetime  # when the create was answered; drives the boot sequence
    date_created: datetime  # whole seconds, as shown; the billing anchor
    main_ip: str
    v6_prefix: str  # the /64 network, without the trailing "::"
    v6_main_ip: str
    kvm_token: str
    default_password: str
    halted: bool = False
    deleted_at: datetime | None = None
    filter_values: dict[str, list[str]] = field(default_factory=dict)

    @property
    def plan(self) -> Plan:
        return self.request.plan

    @property
    def label(self) -> str:
        return self.request.label

    @property
    def tags(self) -> list[str]:
        return self.request.tags

    def billing_end(self, now: datetime) -> datetime:
        return self.deleted_at if self.deleted_at is not None else now

    def to_json(
        self, now: datetime, boot_seconds: float, *, with_password: bool = False
    ) -> dict[str, Any]:
        req = self.request
        plan = req.plan
        elapsed = (now - self.created_at).total_seconds()
        pending = boot_seconds > 0 and elapsed < boot_seconds * _PENDING_FRACTION
        booting = boot_seconds > 0 and elapsed < boot_seconds
        if pending:
            status, power, server = "pending", "running", "none"
        elif booting:
            status, power, server = "active", "stopped", "locked"
        else:
            status, power, server = "active", "stopped" if self.halted else "running", "ok"

        has_v6 = req.enable_ipv6 and not pending
        v6_network = f"{self.v6_prefix}::" if has_v6 else ""
        features = []
        if req.backups:
            features.append("auto_backups")
        if req.enable_ipv6:
            features.append("ipv6")
        if req.ddos_protection:
            features.append("ddos_protection")

        body: dict[str, Any] = {
            "id": self.id,
            "os": req.os.name,
            "ram": plan.ram,
            "disk": 0 if pending else plan.disk,
            "main_ip": "0.0.0.0" if pending else self.main_ip,
            "vcpu_count": plan.vcpu_count,
            "region": req.region,
            "plan": plan.id,
            "date_created": format_time(self.date_created),
            "status": status,
            "allowed_bandwidth": plan.bandwidth,
            "netmask_v4": "" if pending else "255.255.254.0",
            "gateway_v4": "0.0.0.0" if pending else self.main_ip.rsplit(".", 1)[0] + ".1",
            "power_status": power,
            "server_status": server,
            "v6_network": v6_network,
            "v6_main_ip": self.v6_main_ip if has_v6 else "",
            "v6_network_size": 64 if has_v6 else 0,
            "v6_networks": (
                [{"network": v6_network, "main_ip": self.v6_main_ip, "network_size": 64}]
                if has_v6
                else []
            ),
            "label": req.label,
            "internal_ip": "",
            "kvm": (
                ""
                if pending
                else f"https://my.vultr.com/subs/vps/novnc/api.php?data={self.kvm_token}"
            ),
            "hostname": self.hostname,
            "tag": req.tags[0] if req.tags else "",
            "tags": list(req.tags),
            "os_id": req.os.id,
            "app_id": req.app_id,
            "image_id": req.image_id,
            "snapshot_id": req.snapshot_id,
            "firewall_group_id": req.firewall_group_id,
            "features": features,
            "user_scheme": req.user_scheme,
            "vpc_only": False,
        }
        if with_password:
            body["default_password"] = self.default_password
        return body


class InstanceStore:
    """All instances ever created in this account (deleted ones kept for billing)."""

    def __init__(self, seed: int, billing_period_seconds: float) -> None:
        self._seed = seed
        self._period = billing_period_seconds
        self.reset()

    def reset(self) -> None:
        self._rng = random.Random(f"{self._seed}:instances")
        self._next_seq = 0
        self._all: dict[str, Instance] = {}
        self._live: dict[str, Instance] = {}  # insertion order == creation order
        self._index: dict[str, dict[str, dict[str, Instance]]] = {f: {} for f in LIST_FILTERS}

    # -- writes -------------------------------------------------------------------------

    def create(self, request: CreateRequest, now: datetime) -> Instance:
        seq = self._next_seq
        self._next_seq += 1
        rng = self._rng
        v6_prefix = f"2001:19f0:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"
        instance = Instance(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            seq=seq,
            request=request,
            hostname=request.hostname or "vultr.guest",
            created_at=now,
            date_created=now.replace(microsecond=0),
            main_ip=_ipv4(seq),
            v6_prefix=v6_prefix,
            v6_main_ip=f"{v6_prefix}:5400:4ff:fe{rng.getrandbits(8):02x}:{rng.getrandbits(16):x}",
            kvm_token=f"{rng.getrandbits(64):016x}",
            default_password="".join(rng.choices(_PASSWORD_ALPHABET, k=16)),
        )
        instance.filter_values = {
            "label": [request.label],
            "tag": list(dict.fromkeys(request.tags)),
            "region": [request.region],
            "main_ip": [instance.main_ip],
            "hostname": [instance.hostname],
        }
        self._add(instance)
        return instance

    def _add(self, instance: Instance) -> None:
        self._all[instance.id] = instance
        if instance.deleted_at is not None:
            return  # kept for billing only
        self._live[instance.id] = instance
        for name, values in instance.filter_values.items():
            for value in values:
                self._index[name].setdefault(value, {})[instance.id] = instance

    def delete(self, instance: Instance, now: datetime) -> None:
        instance.deleted_at = now
        del self._live[instance.id]
        for name, values in instance.filter_values.items():
            for value in values:
                bucket = self._index[name][value]
                del bucket[instance.id]
                if not bucket:
                    del self._index[name][value]

    # -- reads --------------------------------------------------------------------------

    def get(self, instance_id: str) -> Instance | None:
        """A live instance by id, or None (never existed, or deleted)."""
        return self._live.get(instance_id)

    def select(self, filters: dict[str, str]) -> list[Instance]:
        """Live instances matching every filter exactly, oldest first."""
        if not filters:
            return list(self._live.values())
        buckets = [self._index[name].get(value, {}) for name, value in filters.items()]
        smallest = min(buckets, key=len)
        others = [b for b in buckets if b is not smallest]
        chosen = [i for i in smallest.values() if all(i.id in b for b in others)]
        chosen.sort(key=lambda i: i.seq)
        return chosen

    def everything(self) -> Iterator[Instance]:
        """Every instance ever created, deleted ones included, oldest first."""
        return iter(self._all.values())

    def live_count(self) -> int:
        return len(self._live)

    # -- persistence (emulator/persistence.py writes and reads these) -------------------

    def snapshot(self) -> tuple[Any, int, list[Instance]]:
        """What a restarted store needs: the id generator's state, the next sequence number
        and every instance ever created."""
        return self._rng.getstate(), self._next_seq, list(self._all.values())

    def restore(self, rng_state: Any, next_seq: int, instances: list[Instance]) -> None:
        self.reset()
        self._rng.setstate(rng_state)
        self._next_seq = next_seq
        for instance in sorted(instances, key=lambda i: i.seq):
            self._add(instance)

    # -- billing ------------------------------------------------------------------------

    def month_charges(self, instance: Instance, now: datetime) -> list[billing.MonthCharge]:
        return billing.month_charges(
            instance.date_created,
            instance.billing_end(now),
            self._period,
            instance.plan.monthly_cap,
        )

    def pending_charges(self, now: datetime) -> list[dict[str, Any]]:
        """One invoice-style line per instance and calendar month."""
        lines: list[dict[str, Any]] = []
        for instance in self.everything():
            plan = instance.plan
            price = billing.unit_price(plan.monthly_cost, plan.monthly_cap)
            product = product_name(plan)
            name = instance.label or instance.hostname
            for charge in self.month_charges(instance, now):
                lines.append(
                    {
                        "description": f"{product} {plan.id} {name} ({instance.id})",
                        "start_date": format_time(charge.start),
                        "end_date": format_time(charge.end),
                        "units": charge.units,
                        "unit_type": "hours",
                        "unit_price": float(price),
                        "total": float(charge.units * price),
                        "product": product,
                    }
                )
        return lines

    def pending_total(self, now: datetime) -> Fraction:
        return sum((self._ledger_row(i, now)[1] for i in self.everything()), Fraction(0))

    def ledger(self, now: datetime) -> tuple[list[dict[str, Any]], Fraction]:
        rows: list[dict[str, Any]] = []
        total = Fraction(0)
        for instance in self.everything():
            row, amount = self._ledger_row(instance, now)
            rows.append(row)
            total += amount
        return rows, total

    def _ledger_row(self, instance: Instance, now: datetime) -> tuple[dict[str, Any], Fraction]:
        plan = instance.plan
        units = sum(c.units for c in self.month_charges(instance, now))
        price = billing.unit_price(plan.monthly_cost, plan.monthly_cap)
        amount = units * price
        row = {
            "instance_id": instance.id,
            "label": instance.label,
            "tags": list(instance.tags),
            "region": instance.request.region,
            "plan": plan.id,
            "created_at": format_time(instance.date_created),
            "deleted_at": format_time(instance.deleted_at) if instance.deleted_at else None,
            "units": units,
            "unit_price": float(price),
            "total": float(amount),
        }
        return row, amount


def _ipv4(seq: int) -> str:
    """A distinct address per instance in a Vultr-owned range, never .0, .1 or .255."""
    block, host = divmod(seq, 252)
    return f"45.{76 + (block // 256) % 4}.{block % 256}.{host + 2}"
