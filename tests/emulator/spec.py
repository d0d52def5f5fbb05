"""Checks that emulator responses conform to Vultr's official OpenAPI spec.

The spec file fails openapi-spec-validator on routes the emulator does not serve
(`/vpc2`), so only the served paths are kept and the spec check is skipped.
`GET /billing/pending-charges` is newer than the spec; its item shape comes from
Vultr's invoice items (REFERENCE.md) and is checked with jsonschema here.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import httpx
import jsonschema
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.support.shared_specs import shared_spec

SPEC = "vultr/openapi.json"  # under the shared specs folder (tests/support/shared_specs.py)
SERVER = "https://api.vultr.com"

_SERVED_PATHS = (
    "/instances",
    "/instances/{instance-id}",
    "/instances/{instance-id}/halt",
    "/instances/{instance-id}/start",
    "/instances/{instance-id}/reboot",
    "/regions",
    "/plans",
    "/os",
    "/account",
)

# Statuses any route can answer although some operations in the spec omit them (the spec's
# introduction covers auth and the rate limit; faults are server errors): body checked only.
UNDECLARED_ERROR_STATUSES = frozenset({401, 429, 500, 503})

ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string", "minLength": 1}, "status": {"type": "integer"}},
    "additionalProperties": False,
}

PENDING_CHARGES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["pending_charges"],
    "additionalProperties": False,
    "properties": {
        "pending_charges": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "description", "start_date", "end_date", "units", "unit_type",
                    "unit_price", "total", "product",
                ],
                "properties": {
                    "description": {"type": "string"},
                    "start_date": {"type": "string"},
                    "end_date": {"type": "string"},
                    "units": {"type": "integer", "minimum": 1},
                    "unit_type": {"const": "hours"},
                    "unit_price": {"type": "number"},
                    "total": {"type": "number"},
                    "product": {"type": "string"},
                },
            },
        }
    },
}  # fmt: skip


@lru_cache(maxsize=1)
def raw_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(shared_spec(SPEC).read_text())
    return spec


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    spec = dict(raw_spec())
    spec["paths"] = {p: spec["paths"][p] for p in _SERVED_PATHS}
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def instance_schema_fields() -> set[str]:
    return set(raw_spec()["components"]["schemas"]["instance"]["properties"])


def declared_statuses(method: str, spec_path: str) -> set[int]:
    operation = raw_spec()["paths"][spec_path][method.lower()]
    return {int(code) for code in operation["responses"]}


def _spec_path(path: str) -> tuple[str, dict[str, str]]:
    """`/v2/instances/abc/halt` -> (`/instances/{instance-id}/halt`, {"instance-id": "abc"})."""
    parts = path.removeprefix("/v2").strip("/").split("/")
    if parts[0] == "instances" and len(parts) >= 2:
        template = "/instances/{instance-id}" + "".join(f"/{p}" for p in parts[2:])
        return template, {"instance-id": parts[1]}
    return "/" + "/".join(parts), {}


def assert_conforms(response: httpx.Response) -> None:
    """Fail unless `response` is one the spec (or Vultr's documented errors) allows."""
    request = response.request
    path = request.url.path
    if response.status_code >= 400:
        jsonschema.validate(response.json(), ERROR_BODY_SCHEMA)
        assert response.json()["status"] == response.status_code
        assert response.headers["content-type"].startswith("application/json")
    if path == "/v2/billing/pending-charges":
        if response.status_code == 200:
            jsonschema.validate(response.json(), PENDING_CHARGES_SCHEMA)
        return
    spec_path, path_params = _spec_path(path)
    declared = declared_statuses(request.method, spec_path)
    if response.status_code in UNDECLARED_ERROR_STATUSES and response.status_code not in declared:
        return
    mock_request = MockRequest(
        SERVER,
        request.method,
        path,
        path_pattern=None,
        args=dict(request.url.params),
        view_args=path_params,
        headers=dict(request.headers),
        data=request.content or None,
    )
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    mock_response = MockResponse(
        response.content, status_code=response.status_code, content_type=content_type
    )
    openapi().validate_response(mock_request, mock_response)
