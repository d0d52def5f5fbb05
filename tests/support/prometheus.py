"""Prometheus's own tools for the monitoring tests (Debian's `prometheus` package).

quickstart.py installs the package when it is missing and apt is usable; without it a
test that needs the tools is skipped with the reason, and fails under `CI=true`, so CI
never passes by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest


def prometheus_tool(name: str) -> str:
    """The path of `promtool` or `prometheus`; skips (or fails under CI) when absent."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} not found on PATH: install Debian's prometheus package (quickstart.py does)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
