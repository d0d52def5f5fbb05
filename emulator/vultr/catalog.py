"""The regions, plans and operating systems the emulator offers, after Vultr's public catalog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.core.billing import unit_price

__all__ = [
    "GPU_MONTHLY_CAP_UNITS",
    "MONTHLY_CAP_UNITS",
    "OPERATING_SYSTEMS",
    "OS_BY_ID",
    "PLANS",
    "PLAN_BY_ID",
    "REGIONS",
    "REGION_BY_ID",
    "APPLICATION_OS_ID",
    "CUSTOM_ISO_OS_ID",
    "SNAPSHOT_OS_ID",
    "OperatingSystem",
    "Plan",
    "Region",
]

# Billed hours per calendar month at most; the unit price is the monthly price over this,
# so a full month costs exactly the monthly price.
MONTHLY_CAP_UNITS = 672
GPU_MONTHLY_CAP_UNITS = 730

_REGION_OPTIONS = ["ddos_protection", "block_storage_storage_opt", "load_balancers", "kubernetes"]


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    city: str
    country: str
    continent: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "city": self.city,
            "country": self.country,
            "continent": self.continent,
            "options": list(_REGION_OPTIONS),
        }


REGIONS: tuple[Region, ...] = (
    Region("ams", "Amsterdam", "NL", "Europe"),
    Region("atl", "Atlanta", "US", "North America"),
    Region("blr", "Bangalore", "IN", "Asia"),
    Region("bom", "Mumbai", "IN", "Asia"),
    Region("cdg", "Paris", "FR", "Europe"),
    Region("del", "Delhi NCR", "IN", "Asia"),
    Region("dfw", "Dallas", "US", "North America"),
    Region("ewr", "New Jersey", "US", "North America"),
    Region("fra", "Frankfurt", "DE", "Europe"),
    Region("hnl", "Honolulu", "US", "North America"),
    Region("icn", "Seoul", "KR", "Asia"),
    Region("itm", "Osaka", "JP", "Asia"),
    Region("jnb", "Johannesburg", "ZA", "Africa"),
    Region("lax", "Los Angeles", "US", "North America"),
    Region("lhr", "London", "GB", "Europe"),
    Region("mad", "Madrid", "ES", "Europe"),
    Region("man", "Manchester", "GB", "Europe"),
    Region("mel", "Melbourne", "AU", "Australia"),
    Region("mex", "Mexico City", "MX", "North America"),
    Region("mia", "Miami", "US", "North America"),
    Region("nrt", "Tokyo", "JP", "Asia"),
    Region("ord", "Chicago", "US", "North America"),
    Region("sao", "São Paulo", "BR", "South America"),
    Region("scl", "Santiago", "CL", "South America"),
    Region("sea", "Seattle", "US", "North America"),
    Region("sgp", "Singapore", "SG", "Asia"),
    Region("sjc", "Silicon Valley", "US", "North America"),
    Region("sto", "Stockholm", "SE", "Europe"),
    Region("syd", "Sydney", "AU", "Australia"),
    Region("tlv", "Tel Aviv", "IL", "Asia"),
    Region("waw", "Warsaw", "PL", "Europe"),
    Region("yto", "Toronto", "CA", "North America"),
)
REGION_BY_ID: dict[str, Region] = {r.id: r for r in REGIONS}

_ALL_REGIONS = tuple(r.id for r in REGIONS)
# Larger and GPU plans are sold in fewer places; this keeps "plan not in region" reachable.
_MAJOR_REGIONS = (
    "ams", "atl", "dfw", "ewr", "fra", "lax", "lhr", "nrt", "ord", "sea", "sgp", "sjc",
)  # fmt: skip
_GPU_REGIONS = ("ewr", "fra", "lax", "nrt", "ord", "sjc")


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    vcpu_count: int
    ram: int  # MB
    disk: int  # GB
    bandwidth: int  # GB per month
    monthly_cost: int  # USD
    type: str
    locations: tuple[str, ...]
    gpu_vram_gb: int = 0
    gpu_type: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.type == "vcg"

    @property
    def monthly_cap(self) -> int:
        """Billed units per calendar month at most (Vultr: 672 hours, 730 for GPU plans)."""
        return GPU_MONTHLY_CAP_UNITS if self.is_gpu else MONTHLY_CAP_UNITS

    @property
    def hourly_cost(self) -> float:
        """The price of one billed period; exactly the `unit_price` of pending charges."""
        return float(unit_price(self.monthly_cost, self.monthly_cap))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "vcpu_count": self.vcpu_count,
            "ram": self.ram,
            "disk": self.disk,
            "disk_count": 1,
            "bandwidth": self.bandwidth,
            "monthly_cost": self.monthly_cost,
            "hourly_cost": self.hourly_cost,
            "type": self.type,
            "locations": list(self.locations),
        }
        if self.is_gpu:
            body["gpu_vram_gb"] = self.gpu_vram_gb
            body["gpu_type"] = self.gpu_type
        return body


PLANS: tuple[Plan, ...] = (
    Plan("vc2-1c-1gb", 1, 1024, 25, 1024, 5, "vc2", _ALL_REGIONS),
    Plan("vc2-1c-2gb", 1, 2048, 55, 2048, 10, "vc2", _ALL_REGIONS),
    Plan("vc2-2c-2gb", 2, 2048, 65, 3072, 15, "vc2", _ALL_REGIONS),
    Plan("vc2-2c-4gb", 2, 4096, 80, 3072, 20, "vc2", _ALL_REGIONS),
    Plan("vc2-4c-8gb", 4, 8192, 160, 4096, 40, "vc2", _ALL_REGIONS),
    Plan("vc2-6c-16gb", 6, 16384, 320, 5120, 80, "vc2", _ALL_REGIONS),
    Plan("vc2-8c-32gb", 8, 32768, 640, 6144, 160, "vc2", _MAJOR_REGIONS),
    Plan("vhf-1c-1gb", 1, 1024, 32, 1024, 6, "vhf", _ALL_REGIONS),
    Plan("vhf-1c-2gb", 1, 2048, 64, 2048, 12, "vhf", _ALL_REGIONS),
    Plan("vhf-2c-4gb", 2, 4096, 128, 3072, 24, "vhf", _ALL_REGIONS),
    Plan("vhf-8c-32gb", 8, 32768, 512, 6144, 192, "vhf", _MAJOR_REGIONS),
    Plan("vhp-1c-1gb-amd", 1, 1024, 25, 2048, 6, "vhp", _ALL_REGIONS),
    Plan("vhp-1c-2gb-amd", 1, 2048, 50, 3072, 12, "vhp", _ALL_REGIONS),
    Plan("vhp-2c-4gb-amd", 2, 4096, 100, 4096, 24, "vhp", _ALL_REGIONS),
    Plan("vhp-1c-1gb-intel", 1, 1024, 25, 2048, 6, "vhp", _ALL_REGIONS),
    Plan("vcg-a16-2c-8g-2vram", 2, 8192, 50, 1024, 43, "vcg", _GPU_REGIONS, 2, "NVIDIA_A16"),
    Plan("vcg-a16-3c-16g-4vram", 3, 16384, 80, 2048, 86, "vcg", _GPU_REGIONS, 4, "NVIDIA_A16"),
    Plan("vcg-a40-1c-5g-2vram", 1, 5120, 90, 1024, 90, "vcg", _GPU_REGIONS, 2, "NVIDIA_A40"),
)
PLAN_BY_ID: dict[str, Plan] = {p.id: p for p in PLANS}


@dataclass(frozen=True, slots=True)
class OperatingSystem:
    id: int
    name: str
    arch: str
    family: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arch": self.arch, "family": self.family}


CUSTOM_ISO_OS_ID = 159
SNAPSHOT_OS_ID = 164
APPLICATION_OS_ID = 186

OPERATING_SYSTEMS: tuple[OperatingSystem, ...] = (
    OperatingSystem(CUSTOM_ISO_OS_ID, "Custom", "x64", "iso"),
    OperatingSystem(SNAPSHOT_OS_ID, "Snapshot", "x64", "snapshot"),
    OperatingSystem(180, "Backup", "x64", "backup"),
    OperatingSystem(APPLICATION_OS_ID, "Application", "x64", "application"),
    OperatingSystem(387, "Ubuntu 20.04 LTS x64", "x64", "ubuntu"),
    OperatingSystem(477, "Debian 11 x64 (bullseye)", "x64", "debian"),
    OperatingSystem(542, "CentOS 9 Stream x64", "x64", "centos"),
    OperatingSystem(1743, "Ubuntu 22.04 LTS x64", "x64", "ubuntu"),
    OperatingSystem(1868, "AlmaLinux 9 x64", "x64", "almalinux"),
    OperatingSystem(1869, "Rocky Linux 9 x64", "x64", "rockylinux"),
    OperatingSystem(2076, "Alpine Linux x64", "x64", "alpinelinux"),
    OperatingSystem(2136, "Debian 12 x64 (bookworm)", "x64", "debian"),
    OperatingSystem(2284, "Ubuntu 24.04 LTS x64", "x64", "ubuntu"),
)
OS_BY_ID: dict[int, OperatingSystem] = {o.id: o for o in OPERATING_SYSTEMS}
