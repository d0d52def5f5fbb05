"""The locations, server types (with per-location prices) and images the Hetzner face
offers, after Hetzner Cloud's public catalog (prices in EUR, net; gross adds 19 % VAT)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = [
    "IMAGES",
    "IMAGE_BY_ID",
    "LOCATIONS",
    "LOCATION_BY_NAME",
    "SERVER_TYPES",
    "SERVER_TYPE_BY_NAME",
    "Image",
    "Location",
    "Price",
    "ServerType",
    "find_image",
    "find_server_type",
]

_VAT = Decimal("1.19")
_CATALOG_DATE = "2024-01-01T00:00:00+00:00"


def _money(value: Decimal) -> dict[str, str]:
    return {"net": f"{value:.10f}", "gross": f"{(value * _VAT):.10f}"}


@dataclass(frozen=True, slots=True)
class Location:
    id: int
    name: str
    description: str
    country: str
    city: str
    latitude: float
    longitude: float
    network_zone: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "country": self.country,
            "city": self.city,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "network_zone": self.network_zone,
        }

    def datacenter_json(self) -> dict[str, Any]:
        available = [t.id for t in SERVER_TYPES if self.name in t.prices]
        return {
            "id": self.id,
            "name": f"{self.name}-dc1",
            "description": f"{self.city} DC 1",
            "location": self.to_json(),
            "server_types": {
                "available": available,
                "available_for_migration": available,
                "supported": available,
            },
        }


LOCATIONS: tuple[Location, ...] = (
    Location(1, "fsn1", "Falkenstein DC 1", "DE", "Falkenstein", 50.47612, 12.370071, "eu-central"),
    Location(2, "nbg1", "Nuremberg DC 1", "DE", "Nuremberg", 49.452102, 11.076665, "eu-central"),
    Location(3, "hel1", "Helsinki DC 1", "FI", "Helsinki", 60.169855, 24.938379, "eu-central"),
    Location(4, "ash", "Ashburn, VA", "US", "Ashburn, VA", 39.045821, -77.487073, "us-east"),
    Location(5, "hil", "Hillsboro, OR", "US", "Hillsboro, OR", 45.54222, -122.95161, "us-west"),
    Location(6, "sin", "Singapore", "SG", "Singapore", 1.283333, 103.833333, "ap-southeast"),
)  # fmt: skip
LOCATION_BY_NAME: dict[str, Location] = {loc.name: loc for loc in LOCATIONS}


@dataclass(frozen=True, slots=True)
class Price:
    hourly: Decimal
    monthly: Decimal
    included_traffic_tb: int

    @property
    def month_cap_hours(self) -> int:
        """Started hours after which a month costs the monthly price."""
        return math.ceil(self.monthly / self.hourly)

    def to_json(self, location: str) -> dict[str, Any]:
        return {
            "location": location,
            "price_hourly": _money(self.hourly),
            "price_monthly": _money(self.monthly),
            "included_traffic": self.included_traffic_tb * 1024**4,
            "price_per_tb_traffic": _money(Decimal("1.00")),
        }

    @property
    def hourly_fraction(self) -> Fraction:
        return Fraction(self.hourly)

    @property
    def monthly_fraction(self) -> Fraction:
        return Fraction(self.monthly)


@dataclass(frozen=True, slots=True)
class ServerType:
    id: int
    name: str
    cores: int
    memory: float  # GB
    disk: int  # GB
    cpu_type: str
    architecture: str
    prices: dict[str, Price]  # location name -> price; sold only there

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.name.upper(),
            "category": "cost_optimized"
            if self.name.startswith(("cx", "cax"))
            else "regular_purpose",
            "cores": self.cores,
            "memory": self.memory,
            "disk": self.disk,
            "deprecated": False,
            "deprecation": None,
            "cpu_type": self.cpu_type,
            "architecture": self.architecture,
            "storage_type": "local",
            "locations": [
                {"id": LOCATION_BY_NAME[name].id, "name": name, "deprecation": None}
                for name in self.prices
            ],
            "prices": [price.to_json(name) for name, price in self.prices.items()],
        }


def _priced(hourly: str, monthly: str, traffic: int, where: tuple[str, ...]) -> dict[str, Price]:
    return {name: Price(Decimal(hourly), Decimal(monthly), traffic) for name in where}


_EU = ("fsn1", "nbg1", "hel1")
_US = ("ash", "hil")

SERVER_TYPES: tuple[ServerType, ...] = (
    ServerType(22, "cx22", 2, 4.0, 40, "shared", "x86", _priced("0.0060", "3.79", 20, _EU)),
    ServerType(23, "cx32", 4, 8.0, 80, "shared", "x86", _priced("0.0108", "6.80", 20, _EU)),
    ServerType(24, "cx42", 8, 16.0, 160, "shared", "x86", _priced("0.0261", "16.40", 20, _EU)),
    ServerType(
        1, "cpx11", 2, 2.0, 40, "shared", "x86",
        {**_priced("0.0069", "4.35", 20, _EU), **_priced("0.0080", "4.99", 1, (*_US, "sin"))},
    ),
    ServerType(
        3, "cpx21", 3, 4.0, 80, "shared", "x86",
        {**_priced("0.0120", "7.55", 20, _EU), **_priced("0.0138", "8.59", 2, (*_US, "sin"))},
    ),
    ServerType(45, "cax11", 2, 4.0, 40, "shared", "arm", _priced("0.0060", "3.79", 20, _EU)),
    ServerType(93, "cax21", 4, 8.0, 80, "shared", "arm", _priced("0.0103", "6.49", 20, _EU)),
    ServerType(
        96, "ccx13", 2, 8.0, 80, "dedicated", "x86",
        _priced("0.0198", "12.49", 20, (*_EU, *_US, "sin")),
    ),
)  # fmt: skip
SERVER_TYPE_BY_NAME: dict[str, ServerType] = {t.name: t for t in SERVER_TYPES}


@dataclass(frozen=True, slots=True)
class Image:
    id: int
    name: str
    description: str
    os_flavor: str
    os_version: str
    architecture: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "system",
            "status": "available",
            "name": self.name,
            "description": self.description,
            "image_size": None,
            "disk_size": 5,
            "created": _CATALOG_DATE,
            "created_from": None,
            "bound_to": None,
            "os_flavor": self.os_flavor,
            "os_version": self.os_version,
            "rapid_deploy": True,
            "protection": {"delete": False},
            "deprecated": None,
            "deleted": None,
            "labels": {},
            "architecture": self.architecture,
        }


def _image_pair(
    x86: int, arm: int, name: str, desc: str, flavor: str, version: str
) -> tuple[Image, Image]:
    # Hetzner publishes one image per architecture under the same name.
    return (
        Image(x86, name, desc, flavor, version, "x86"),
        Image(arm, name, desc, flavor, version, "arm"),
    )


IMAGES: tuple[Image, ...] = (
    *_image_pair(67794396, 103908130, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04"),
    *_image_pair(161547269, 161547270, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04"),
    *_image_pair(114690387, 114690389, "debian-12", "Debian 12", "debian", "12"),
    *_image_pair(76766499, 103908070, "rocky-9", "Rocky Linux 9", "rocky", "9"),
)
IMAGE_BY_ID: dict[int, Image] = {i.id: i for i in IMAGES}


def find_server_type(ref: str) -> ServerType | None:
    """By name, or by id written as a string, as the API accepts both."""
    if ref.isdigit():
        return next((t for t in SERVER_TYPES if t.id == int(ref)), None)
    return SERVER_TYPE_BY_NAME.get(ref)


def find_image(ref: str, architecture: str) -> Image | None:
    """By id, or by name for the server type's architecture."""
    if ref.isdigit():
        return IMAGE_BY_ID.get(int(ref))
    return next((i for i in IMAGES if i.name == ref and i.architecture == architecture), None)
