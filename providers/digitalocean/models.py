"""The parts of DigitalOcean API v2 objects the client reads, validated with pydantic.
Unknown fields are ignored: the API adds fields over time."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Droplet", "Image", "Network", "Region", "Size"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Network(_Model):
    ip_address: str
    type: str = ""


class Networks(_Model):
    v4: list[Network] = Field(default_factory=list)
    v6: list[Network] = Field(default_factory=list)


class RegionRef(_Model):
    slug: str


class ImageRef(_Model):
    id: int | None = None
    slug: str | None = None


class Droplet(_Model):
    id: int
    name: str
    status: str
    created_at: datetime
    size_slug: str = ""
    region: RegionRef
    image: ImageRef = Field(default_factory=ImageRef)
    tags: list[str] = Field(default_factory=list)
    networks: Networks = Field(default_factory=Networks)

    @property
    def public_ipv4(self) -> str | None:
        return next((n.ip_address for n in self.networks.v4 if n.type == "public"), None)


class Size(_Model):
    slug: str
    price_monthly: float = Field(ge=0)
    price_hourly: float = Field(ge=0)
    regions: list[str] = Field(default_factory=list)
    available: bool = True


class Region(_Model):
    slug: str
    name: str = ""
    available: bool = True


class Image(_Model):
    id: int
    slug: str | None = None
    name: str = ""
    regions: list[str] = Field(default_factory=list)
