"""DigitalOcean's catalog (sizes, regions, images) and the checks a create passes before
it is sent: every problem named at once, with the valid choices."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from providers.digitalocean.models import Image, Region, Size
from providers.errors import ProviderValidationError

__all__ = ["MAX_USER_DATA_BYTES", "TAG_PATTERN", "Catalog", "check_create"]

MAX_USER_DATA_BYTES = 64 * 1024
# DigitalOcean tags: letters, digits, colons, dashes and underscores, at most 255.
TAG_PATTERN = re.compile(r"^[a-zA-Z0-9_:\-]{1,255}$")
_SHOWN = 12  # choices listed in a message at most


def _choices(values: Iterable[str]) -> str:
    ordered = sorted(values)
    shown = ", ".join(ordered[:_SHOWN])
    return shown + (f", ... ({len(ordered)} in all)" if len(ordered) > _SHOWN else "")


@dataclass(frozen=True, slots=True)
class Catalog:
    sizes: dict[str, Size]
    regions: dict[str, Region]
    images: dict[str, Image]  # by slug and by str(id)

    @classmethod
    def build(
        cls, sizes: Sequence[Size], regions: Sequence[Region], images: Sequence[Image]
    ) -> Catalog:
        by_key: dict[str, Image] = {}
        for image in images:
            by_key[str(image.id)] = image
            if image.slug:
                by_key[image.slug] = image
        return cls(
            sizes={s.slug: s for s in sizes if s.available},
            regions={r.slug: r for r in regions if r.available},
            images=by_key,
        )

    def image(self, image: str | int) -> Image | None:
        return self.images.get(str(image))


def check_create(
    catalog: Catalog | None,
    *,
    name: str,
    region: str,
    size: str,
    image: str | int,
    tags: Sequence[str],
    user_data: str | None,
) -> None:
    """Raise ProviderValidationError naming every problem (the catalog's too when given)."""
    problems: list[str] = []
    if not name:
        problems.append("the droplet name is empty")
    for tag in tags:
        if not TAG_PATTERN.fullmatch(tag):
            problems.append(
                f"tag {tag!r} is not valid at DigitalOcean (letters, digits, ':', '-' and '_', "
                "1-255 characters)"
            )
    if user_data is not None and len(user_data.encode()) > MAX_USER_DATA_BYTES:
        problems.append(
            f"user data is {len(user_data.encode())} bytes; the limit is {MAX_USER_DATA_BYTES}"
        )
    if catalog is not None:
        if region not in catalog.regions:
            problems.append(f"unknown region {region!r} (known: {_choices(catalog.regions)})")
        known_size = catalog.sizes.get(size)
        if known_size is None:
            problems.append(f"unknown size {size!r} (known: {_choices(catalog.sizes)})")
        elif region in catalog.regions and region not in known_size.regions:
            problems.append(
                f"size {size!r} is not offered in region {region!r} "
                f"(offered in: {_choices(known_size.regions)})"
            )
        if catalog.image(image) is None:
            slugs = {f"{i.slug} ({i.id})" if i.slug else str(i.id) for i in catalog.images.values()}
            problems.append(f"unknown image {image!r} (known: {_choices(slugs)})")
    if problems:
        raise ProviderValidationError(problems, subject="droplet create", provider="DigitalOcean")
