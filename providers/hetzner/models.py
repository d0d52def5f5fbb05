"""Hetzner Cloud API v1 objects the client reads and writes (only the fields it uses;
unknown fields are ignored, as the API adds some over time)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CreateServerRequest",
    "Image",
    "Location",
    "Price",
    "Server",
    "ServerType",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Location(_Model):
    id: int
    name: str
    city: str = ""
    country: str = ""


class _Amount(_Model):
    net: Decimal
    gross: Decimal


class Price(_Model):
    location: str
    price_hourly: _Amount
    price_monthly: _Amount


class ServerType(_Model):
    id: int
    name: str
    cores: int = 0
    memory: float = 0
    disk: float = 0
    architecture: str = "x86"
    deprecated: bool | None = None
    prices: list[Price] = Field(default_factory=list)

    def price_in(self, location: str) -> Price | None:
        return next((p for p in self.prices if p.location == location), None)


class Image(_Model):
    id: int
    name: str | None = None
    type: str = "system"
    status: str = "available"
    architecture: str = "x86"
    description: str = ""


class _Datacenter(_Model):
    location: Location


class _Ipv4(_Model):
    ip: str


class _PublicNet(_Model):
    ipv4: _Ipv4 | None = None


class _TypeRef(_Model):
    name: str


class _ImageRef(_Model):
    id: int
    name: str | None = None


class Server(_Model):
    id: int
    name: str
    status: str
    created: datetime
    labels: dict[str, str] = Field(default_factory=dict)
    server_type: _TypeRef
    datacenter: _Datacenter
    image: _ImageRef | None = None
    public_net: _PublicNet = Field(default_factory=_PublicNet)

    @property
    def location(self) -> str:
        return self.datacenter.location.name

    @property
    def ipv4(self) -> str | None:
        return self.public_net.ipv4.ip if self.public_net.ipv4 else None


class CreateServerRequest(_Model):
    """POST /servers. `image`, `server_type` and `location` are names (or ids as strings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    server_type: str
    image: str
    location: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    user_data: str | None = None
    ssh_keys: list[str] = Field(default_factory=list)
    start_after_create: bool = True

    def api_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)
