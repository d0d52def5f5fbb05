"""The /v2 routes the emulator serves, named by their spec templates
(`GET /v2/instances/{instance-id}`), and how a request finds its template."""

from __future__ import annotations

import re

__all__ = ["PUBLIC_ROUTES", "ROUTES", "match_route", "starlette_path"]

ROUTES: tuple[str, ...] = (
    "POST /v2/instances",
    "GET /v2/instances",
    "GET /v2/instances/{instance-id}",
    "DELETE /v2/instances/{instance-id}",
    "POST /v2/instances/{instance-id}/halt",
    "POST /v2/instances/{instance-id}/start",
    "POST /v2/instances/{instance-id}/reboot",
    "GET /v2/regions",
    "GET /v2/plans",
    "GET /v2/os",
    "GET /v2/account",
    "GET /v2/billing/pending-charges",
)

# The spec marks the catalog as public (`security: []`): no bearer token needed.
PUBLIC_ROUTES: frozenset[str | None] = frozenset({"GET /v2/regions", "GET /v2/plans", "GET /v2/os"})

_PARAM = re.compile(r"\{([a-z-]+)\}")
_STATIC: dict[tuple[str, str], str] = {}
_DYNAMIC: list[tuple[str, re.Pattern[str], str]] = []
for _template in ROUTES:
    _method, _path = _template.split(" ", 1)
    if "{" in _path:
        _DYNAMIC.append((_method, re.compile("^" + _PARAM.sub(r"[^/]+", _path) + "$"), _template))
    else:
        _STATIC[(_method, _path)] = _template


def match_route(method: str, path: str) -> str | None:
    """The template a request belongs to, or None if the emulator serves no such route."""
    found = _STATIC.get((method, path))
    if found is not None:
        return found
    for route_method, pattern, template in _DYNAMIC:
        if route_method == method and pattern.match(path):
            return template
    return None


def starlette_path(template: str) -> str:
    """`GET /v2/instances/{instance-id}` -> `/v2/instances/{instance_id}`."""
    path = template.split(" ", 1)[1]
    return _PARAM.sub(lambda m: "{" + m.group(1).replace("-", "_") + "}", path)
