"""The /v1 routes the Hetzner face serves, named by their spec templates."""

from __future__ import annotations

from emulator.core.routes import RouteTable

__all__ = ["ROUTES"]

ROUTES = RouteTable(
    "/v1",
    (
        "POST /v1/servers",
        "GET /v1/servers",
        "GET /v1/servers/{id}",
        "DELETE /v1/servers/{id}",
        "GET /v1/actions/{id}",
        "GET /v1/server_types",
        "GET /v1/locations",
        "GET /v1/images",
    ),
)
