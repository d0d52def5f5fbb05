"""The /v2 routes the Vultr face serves, named by their spec templates."""

from __future__ import annotations

from emulator.core.routes import RouteTable

__all__ = ["ROUTES"]

ROUTES = RouteTable(
    "/v2",
    (
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
    ),
    # The spec marks the catalog as public (`security: []`): no bearer token needed.
    public=("GET /v2/regions", "GET /v2/plans", "GET /v2/os"),
)
