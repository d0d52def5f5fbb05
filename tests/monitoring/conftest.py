"""The live monitoring test shares the fast emulator of tests/integration."""

from __future__ import annotations

from tests.integration.conftest import fast_emulator  # noqa: F401 - fixture
