"""Vultr's cursor pagination: `per_page` (default 100, at most 500) and opaque `cursor`s.

A cursor names a position in a list ordered by a strictly increasing integer key
(creation sequence for instances, catalog position for the rest), so items
created or deleted between two page requests never cause a duplicate or a skip
among the items that exist throughout.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from emulator.core.errors import ApiError

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "Page", "paginate", "parse_per_page"]

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    next: str
    prev: str

    def meta(self) -> dict[str, object]:
        return {"total": self.total, "links": {"next": self.next, "prev": self.prev}}


def _encode(direction: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}__{key}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, _, key = base64.urlsafe_b64decode(padded).decode().partition("__")
        if direction not in ("next", "prev"):
            raise ValueError(direction)
        return direction, int(key)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(
            400,
            f"Invalid cursor {cursor!r}; pass a links.next or links.prev value "
            "from a previous page unchanged.",
        ) from exc


def parse_per_page(query: Mapping[str, str]) -> int:
    raw = query.get("per_page")
    if raw is None or raw == "":
        return DEFAULT_PER_PAGE
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid per_page {raw!r}; use an integer from 1 to 500.") from exc
    if value < 1:
        raise ApiError(400, f"Invalid per_page {value}; use an integer from 1 to 500.")
    return min(value, MAX_PER_PAGE)


def paginate(keys: Sequence[int], items: Sequence[T], query: Mapping[str, str]) -> Page[T]:
    """One page of `items`, whose ascending `keys` say where each item sits."""
    per_page = parse_per_page(query)
    cursor = query.get("cursor") or ""
    if cursor:
        direction, key = _decode(cursor)
        if direction == "next":
            start = bisect_left(keys, key)
        else:
            start = max(0, bisect_left(keys, key) - per_page)
    else:
        start = 0
    stop = min(len(items), start + per_page)
    nxt = _encode("next", keys[stop]) if stop < len(items) else ""
    prev = _encode("prev", keys[start]) if start > 0 else ""
    return Page(items=list(items[start:stop]), total=len(items), next=nxt, prev=prev)
