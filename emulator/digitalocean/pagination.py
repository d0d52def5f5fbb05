"""DigitalOcean's page pagination: `page` (from 1) and `per_page` (default 20, at most
200); `links.pages` holds absolute `first`/`prev`/`next`/`last` URLs where they apply
and `meta.total` the number of items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.datastructures import URL, QueryParams

from emulator.core.errors import ApiError

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "Page", "paginate"]

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 200

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    pages: dict[str, str]

    def envelope(self, key: str, items: list[Any]) -> dict[str, Any]:
        return {
            key: items,
            "links": {"pages": self.pages} if self.pages else {},
            "meta": {"total": self.total},
        }


def _positive(query: QueryParams, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ApiError(
            400, f"Invalid {name} {raw!r}; use an integer of at least 1.", code="bad_request"
        )
    return value


def paginate(items: Sequence[T], url: URL) -> Page[T]:
    query = QueryParams(url.query)
    page = _positive(query, "page", 1)
    per_page = min(_positive(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    last = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page

    def link(number: int) -> str:
        params = {**dict(query), "page": str(number), "per_page": str(per_page)}
        return str(url.replace_query_params(**params))

    pages: dict[str, str] = {}
    if page > 1:
        pages["first"] = link(1)
        pages["prev"] = link(min(page - 1, last))
    if page < last:
        pages["next"] = link(page + 1)
        pages["last"] = link(last)
    return Page(items=list(items[start : start + per_page]), total=len(items), pages=pages)
