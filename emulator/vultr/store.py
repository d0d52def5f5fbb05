"""Vultr instances on the core store: creation, the lifecycle they show over time, and
what they cost (the invoice-style pending charges).

The state an instance shows (pending, locked, ok) is derived from the emulator clock
when it is read, not advanced by a background task.
"""

from __future__ import annotations

import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from emulator.core import billing
from emulator.core.clock import format_time
from emulator.core.ledger import Ledger, Tariff
from emulator.core.store import RecordStore
from emulator.vultr.catalog import Plan
from emulator.vultr.validation import CreateRequest

__all__ = ["LIST_FILTERS", "Instance", "InstanceStore", "format_time", "product_name"]

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

    @property
    def billing_anchor(self) -> datetime:
        return self.date_created

    def tariff(self) -> Tariff:
        plan = self.plan
        return Tariff(billing.unit_price(plan.monthly_cost, plan.monthly_cap), plan.monthly_cap)

    def ledger_fields(self) -> dict[str, Any]:
        return {
            "instance_id": self.id,
            "label": self.label,
            "tags": list(self.tags),
            "region": self.request.region,
            "plan": self.plan.id,
        }

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


class InstanceStore(RecordStore[Instance]):
    """All instances ever created in this account (deleted ones kept for billing)."""

    def __init__(self, seed: int, billing_period_seconds: float) -> None:
        super().__init__(seed, LIST_FILTERS)
        self._ledger = Ledger(billing_period_seconds)

    # -- writes -------------------------------------------------------------------------

    def create(self, request: CreateRequest, now: datetime) -> Instance:
        seq = self.next_seq()
        rng = self.rng
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
        self.add(instance)
        return instance

    # -- billing ------------------------------------------------------------------------

    def month_charges(self, instance: Instance, now: datetime) -> list[billing.MonthCharge]:
        return self._ledger.month_charges(instance, now)

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
        return self.ledger(now)[1]

    def ledger(self, now: datetime) -> tuple[list[dict[str, Any]], Fraction]:
        return self._ledger.rows(self.everything(), now)


def _ipv4(seq: int) -> str:
    """A distinct address per instance in a Vultr-owned range, never .0, .1 or .255."""
    block, host = divmod(seq, 252)
    return f"45.{76 + (block // 256) % 4}.{block % 256}.{host + 2}"
