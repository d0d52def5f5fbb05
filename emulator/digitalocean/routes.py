"""The /v2 routes the DigitalOcean face serves, named by their spec templates."""

from __future__ import annotations

from emulator.core.routes import RouteTable

__all__ = ["ROUTES"]

ROUTES = RouteTable(
    "/v2",
    (
        "POST /v2/droplets",
        "GET /v2/droplets",
        "GET /v2/droplets/{droplet_id}",
        "DELETE /v2/droplets/{droplet_id}",
        "GET /v2/sizes",
        "GET /v2/regions",
        "GET /v2/images",
    ),
)
