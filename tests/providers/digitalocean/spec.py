"""Checks that DigitalOcean-face responses conform to DigitalOcean's OpenAPI spec.

The spec is a 3 MB YAML file: it is parsed once and kept as JSON in the temp folder
(keyed by the file's size and time), so later runs load it in milliseconds. Only the
served paths are kept for openapi-core, and its own spec check is skipped.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.support.shared_specs import shared_spec

SPEC = "digitalocean/openapi.yaml"
SERVER = "https://api.digitalocean.com"
SERVED_PATHS = (
    "/v2/droplets",
    "/v2/droplets/{droplet_id}",
    "/v2/sizes",
    "/v2/regions",
    "/v2/images",
)
# Statuses the spec's operations leave to `default` (an error body): checked that way.
_RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


@lru_cache(maxsize=1)
def raw_spec() -> dict[str, Any]:
    path = shared_spec(SPEC)
    stat = path.stat()
    cached = Path(tempfile.gettempdir()) / f"do-openapi-{stat.st_size}-{stat.st_mtime_ns}.json"
    if cached.is_file():
        spec: dict[str, Any] = json.loads(cached.read_text())
        return spec
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(path.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    partial = cached.with_suffix(f".{os.getpid()}.partial")  # parallel runs never share one
    partial.write_text(json.dumps(spec, default=str))
    partial.replace(cached)
    return spec


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    spec = dict(raw_spec())
    spec["paths"] = {p: spec["paths"][p] for p in SERVED_PATHS}
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def _spec_path(path: str) -> tuple[str, dict[str, str]]:
    parts = path.strip("/").split("/")
    if parts[:2] == ["v2", "droplets"] and len(parts) == 3:
        return "/v2/droplets/{droplet_id}", {"droplet_id": parts[2]}
    return path, {}


def assert_conforms(response: httpx.Response) -> None:
    """Fail unless `response` is one the spec allows (the error schema for statuses it
    leaves to `default`), with the rate-limit headers every answer carries."""
    request = response.request
    for name in _RATE_HEADERS:
        assert name in response.headers, f"{name} missing on {request.method} {request.url}"
    spec_path, params = _spec_path(request.url.path)
    mock_request = MockRequest(
        SERVER,
        request.method,
        request.url.path,
        path_pattern=spec_path,
        args=dict(request.url.params),
        view_args=params,
        headers=dict(request.headers),
        data=request.content or None,
    )
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    mock_response = MockResponse(
        response.content,
        status_code=response.status_code,
        content_type=content_type,
        headers=dict(response.headers),
    )
    openapi().validate_response(mock_request, mock_response)
