"""Hetzner's page pagination: `page` (from 1) and `per_page` (default 25, at most 50),
described in `meta.pagination`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from emulator.hetzner.errors import invalid_field

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "paginate"]

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 50

T = TypeVar("T")


def _positive(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise invalid_field(name, f"{raw!r} is not a whole number of at least 1")
    return value


def paginate(items: Sequence[T], query: Mapping[str, str]) -> tuple[list[T], dict[str, Any]]:
    """The items of the requested page, and the `meta` object describing it."""
    page = _positive(query, "page", 1)
    per_page = min(_positive(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    meta = {
        "pagination": {
            "page": page,
            "per_page": per_page,
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if page < last else None,
            "last_page": last,
            "total_entries": total,
        }
    }
    return list(items[start : start + per_page]), meta
