"""A face's routes, named by their spec templates (`GET /v2/instances/{instance-id}`),
and how a request finds its template."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["RouteTable"]

_PARAM = re.compile(r"\{([a-z_-]+)\}")


class RouteTable:
    """The templates a face serves under `prefix` (e.g. `/v2`); `public` need no token."""

    def __init__(self, prefix: str, templates: Iterable[str], public: Iterable[str] = ()) -> None:
        self.prefix = prefix
        self.templates: tuple[str, ...] = tuple(templates)
        self.known: frozenset[str] = frozenset(self.templates)
        self.public: frozenset[str | None] = frozenset(public)
        self._static: dict[tuple[str, str], str] = {}
        self._dynamic: list[tuple[str, re.Pattern[str], str]] = []
        for template in self.templates:
            method, path = template.split(" ", 1)
            if "{" in path:
                pattern = re.compile("^" + _PARAM.sub(r"[^/]+", path) + "$")
                self._dynamic.append((method, pattern, template))
            else:
                self._static[(method, path)] = template

    def covers(self, path: str) -> bool:
        """Whether `path` is under this face's API prefix (the gate's concern)."""
        return path == self.prefix or path.startswith(self.prefix + "/")

    def match(self, method: str, path: str) -> str | None:
        """The template a request belongs to, or None if the face serves no such route."""
        found = self._static.get((method, path))
        if found is not None:
            return found
        for route_method, pattern, template in self._dynamic:
            if route_method == method and pattern.match(path):
                return template
        return None

    @staticmethod
    def starlette_path(template: str) -> str:
        """`GET /v2/instances/{instance-id}` -> `/v2/instances/{instance_id}`."""
        path = template.split(" ", 1)[1]
        return _PARAM.sub(lambda m: "{" + m.group(1).replace("-", "_") + "}", path)
