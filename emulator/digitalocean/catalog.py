"""The regions, sizes and images the emulator offers, after DigitalOcean's public catalog."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = [
    "IMAGES",
    "IMAGE_BY_ID",
    "IMAGE_BY_SLUG",
    "MONTHLY_CAP_HOURS",
    "REGIONS",
    "REGION_BY_SLUG",
    "SIZES",
    "SIZE_BY_SLUG",
    "Image",
    "Region",
    "Size",
]

# The hourly price is the monthly one over this many hours, and a calendar month costs
# at most the monthly price (so at most this many hours are billed per month).
MONTHLY_CAP_HOURS = 672

_FEATURES = ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"]


@dataclass(frozen=True, slots=True)
class Size:
    slug: str
    vcpus: int
    memory: int  # MB
    disk: int  # GB
    transfer: float  # TB per month
    price_monthly: int  # USD
    description: str
    regions: tuple[str, ...]

    @property
    def hourly_price(self) -> Fraction:
        return Fraction(self.price_monthly, MONTHLY_CAP_HOURS)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "memory": self.memory,
            "vcpus": self.vcpus,
            "disk": self.disk,
            "transfer": self.transfer,
            "price_monthly": float(self.price_monthly),
            "price_hourly": round(float(self.hourly_price), 5),
            "regions": list(self.regions),
            "available": True,
            "description": self.description,
            "disk_info": [{"type": "local", "size": {"amount": self.disk, "unit": "gib"}}],
        }


_ALL = ("ams3", "blr1", "fra1", "lon1", "nyc1", "nyc3", "sfo3", "sgp1", "syd1", "tor1")
# Larger sizes are sold in fewer places; this keeps "size not in region" reachable.
_MAJOR = ("ams3", "fra1", "nyc1", "nyc3", "sfo3")

SIZES: tuple[Size, ...] = (
    Size("s-1vcpu-512mb-10gb", 1, 512, 10, 0.5, 4, "Basic", ("fra1", "nyc1", "sfo3")),
    Size("s-1vcpu-1gb", 1, 1024, 25, 1.0, 6, "Basic", _ALL),
    Size("s-1vcpu-2gb", 1, 2048, 50, 2.0, 12, "Basic", _ALL),
    Size("s-2vcpu-2gb", 2, 2048, 60, 3.0, 18, "Basic", _ALL),
    Size("s-2vcpu-4gb", 2, 4096, 80, 4.0, 24, "Basic", _ALL),
    Size("s-4vcpu-8gb", 4, 8192, 160, 5.0, 48, "Basic", _ALL),
    Size("c-2", 2, 4096, 25, 4.0, 42, "CPU-Optimized", _MAJOR),
    Size("g-2vcpu-8gb", 2, 8192, 25, 4.0, 63, "General Purpose", _MAJOR),
    Size("m-2vcpu-16gb", 2, 16384, 50, 4.0, 84, "Memory-Optimized", _MAJOR),
)
SIZE_BY_SLUG: dict[str, Size] = {s.slug: s for s in SIZES}


@dataclass(frozen=True, slots=True)
class Region:
    slug: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "features": list(_FEATURES),
            "available": True,
            "sizes": [s.slug for s in SIZES if self.slug in s.regions],
        }


REGIONS: tuple[Region, ...] = (
    Region("ams3", "Amsterdam 3"),
    Region("blr1", "Bangalore 1"),
    Region("fra1", "Frankfurt 1"),
    Region("lon1", "London 1"),
    Region("nyc1", "New York 1"),
    Region("nyc3", "New York 3"),
    Region("sfo3", "San Francisco 3"),
    Region("sgp1", "Singapore 1"),
    Region("syd1", "Sydney 1"),
    Region("tor1", "Toronto 1"),
)
REGION_BY_SLUG: dict[str, Region] = {r.slug: r for r in REGIONS}


@dataclass(frozen=True, slots=True)
class Image:
    id: int
    slug: str
    name: str
    distribution: str
    min_disk_size: int
    size_gigabytes: float
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": "base",
            "distribution": self.distribution,
            "slug": self.slug,
            "public": True,
            "regions": [r.slug for r in REGIONS],
            "created_at": self.created_at,
            "min_disk_size": self.min_disk_size,
            "size_gigabytes": self.size_gigabytes,
            "tags": [],
            "status": "available",
            "error_message": "",
        }


IMAGES: tuple[Image, ...] = (
    Image(
        112929454, "ubuntu-22-04-x64", "22.04 (LTS) x64", "Ubuntu", 7, 2.36, "2022-06-14T15:30:02Z"
    ),
    Image(
        155112933, "ubuntu-24-04-x64", "24.04 (LTS) x64", "Ubuntu", 7, 2.44, "2024-04-24T14:13:08Z"
    ),
    Image(148361578, "debian-12-x64", "12 x64", "Debian", 10, 1.21, "2024-01-31T19:09:18Z"),
    Image(157418209, "rocky-9-x64", "9.4 x64", "Rocky Linux", 10, 1.12, "2024-05-23T15:26:41Z"),
    Image(160121345, "fedora-40-x64", "40 x64", "Fedora", 10, 1.03, "2024-06-28T10:02:55Z"),
)
IMAGE_BY_ID: dict[int, Image] = {i.id: i for i in IMAGES}
IMAGE_BY_SLUG: dict[str, Image] = {i.slug: i for i in IMAGES}
