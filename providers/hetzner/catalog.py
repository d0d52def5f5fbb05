"""Server types (with per-location prices), locations and images, and the check of a
create request against them, naming the valid choices."""

from __future__ import annotations

from dataclasses import dataclass

from providers.hetzner.models import Image, Location, ServerType

__all__ = ["Catalog"]


@dataclass(frozen=True)
class Catalog:
    server_types: dict[str, ServerType]
    locations: dict[str, Location]
    images: list[Image]

    @classmethod
    def build(
        cls, server_types: list[ServerType], locations: list[Location], images: list[Image]
    ) -> Catalog:
        return cls({t.name: t for t in server_types}, {loc.name: loc for loc in locations}, images)

    def image(self, ref: str, architecture: str) -> Image | None:
        """By id, or by name for the architecture (Hetzner has one image per arch)."""
        for image in self.images:
            if ref.isdigit() and image.id == int(ref):
                return image
            if image.name == ref and image.architecture == architecture:
                return image
        return None

    def problems(self, server_type: str, location: str | None, image: str) -> list[str]:
        """Every reason the catalog refuses this combination, with the valid choices."""
        problems = []
        kind = self.server_types.get(server_type)
        if kind is None:
            known = ", ".join(sorted(self.server_types))
            problems.append(f"unknown server type {server_type!r} (known: {known})")
        if location is not None and location not in self.locations:
            known = ", ".join(sorted(self.locations))
            problems.append(f"unknown location {location!r} (known: {known})")
        elif location is not None and kind is not None and kind.price_in(location) is None:
            sold = ", ".join(p.location for p in kind.prices)
            problems.append(
                f"server type {server_type!r} is not sold in {location!r} (it is in: {sold})"
            )
        arch = kind.architecture if kind is not None else "x86"
        if self.image(image, arch) is None:
            names = sorted({i.name or str(i.id) for i in self.images if i.architecture == arch})
            problems.append(f"unknown image {image!r} for {arch} (known: {', '.join(names)})")
        return problems
