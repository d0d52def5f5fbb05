"""External specifications the tests validate against (Vultr's OpenAPI, the Compose schema...).

They are not part of the repository: they live in a `shared/` folder beside it
(`<repo>/../shared/`), or wherever `SHARED_SPECS_DIR` points. A test whose spec is absent
is skipped with the reason; under `CI=true` it fails instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_SPECS_ENV = "SHARED_SPECS_DIR"
REPO = Path(__file__).resolve().parents[2]


def shared_specs_dir() -> Path:
    configured = os.environ.get(SHARED_SPECS_ENV)
    return Path(configured) if configured else REPO.parent / "shared"


def shared_spec(relative: str) -> Path:
    """The spec at `relative` (e.g. "vultr/openapi.json") under the shared folder.

    Skips the calling test when the file is absent, or fails it under `CI=true`.
    """
    path = shared_specs_dir() / relative
    if path.is_file():
        return path
    reason = (
        f"external spec {relative} not found at {path}: put the shared/ folder beside the "
        f"repository or set {SHARED_SPECS_ENV}"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
