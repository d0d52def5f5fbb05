"""Checks that Hetzner face responses conform to the Hetzner Cloud OpenAPI spec.

Only the served paths are kept, and the spec check itself is skipped (as for Vultr's:
the community file is large and not every unrelated path validates). The file marks
nullable references as `{"allOf": [ref], "nullable": true}`, which OpenAPI 3.0.3 does
not make nullable (no `type` beside it); they are read as meant: the ref, or null.
Error responses are declared as ranges (`4xx`, `5xx`), which openapi-core does not
match: the range's schema serves as `default`, after checking the status is in a range.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.support.shared_specs import shared_spec

SPEC = "hetzner/openapi.json"  # under the shared specs folder (tests/support/shared_specs.py)
SERVER = "https://api.hetzner.cloud"

_SERVED_PATHS = (
    "/servers",
    "/servers/{id}",
    "/actions/{id}",
    "/server_types",
    "/locations",
    "/images",
)


@lru_cache(maxsize=1)
def raw_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(shared_spec(SPEC).read_text())
    return spec


_NULL: dict[str, Any] = {"type": "object", "nullable": True, "enum": [None]}


def _nullable_refs(node: Any) -> Any:
    """A copy of `node` with each nullable allOf wrapper as `anyOf: [ref, null]`."""
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_refs(value) for key, value in node.items()}
    if node.get("nullable") and "allOf" in node and "type" not in node:
        rest = {k: v for k, v in node.items() if k not in ("allOf", "nullable")}
        return {**rest, "anyOf": [{"allOf": node["allOf"]}, _NULL]}
    return node


def _ranges_as_default(operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    for code in ("4xx", "5xx"):
        if code in responses:
            responses.setdefault("default", responses[code])


def declared(method: str, spec_path: str, status: int) -> bool:
    responses = raw_spec()["paths"][spec_path][method.lower()]["responses"]
    return str(status) in responses or f"{status // 100}xx" in responses


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    spec = _nullable_refs(raw_spec())
    spec["paths"] = {p: spec["paths"][p] for p in _SERVED_PATHS}
    for item in spec["paths"].values():
        for method in ("get", "post", "put", "delete"):
            if method in item:
                _ranges_as_default(item[method])
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def _spec_path(path: str) -> tuple[str, dict[str, str]]:
    """`/v1/servers/42` -> (`/servers/{id}`, {"id": "42"})."""
    parts = path.removeprefix("/v1").strip("/").split("/")
    if len(parts) == 2:
        return f"/{parts[0]}/{{id}}", {"id": parts[1]}
    return "/" + "/".join(parts), {}


def assert_conforms(response: httpx.Response) -> None:
    """Fail unless `response` is one the spec allows (errors included: 4xx/5xx bodies)."""
    request = response.request
    spec_path, path_params = _spec_path(request.url.path)
    assert declared(request.method, spec_path, response.status_code), (
        f"{request.method} {spec_path} declares no status {response.status_code}"
    )
    mock_request = MockRequest(
        SERVER,
        request.method,
        request.url.path,
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
