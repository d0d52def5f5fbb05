"""The emulator started with --api-key refuses every request that lacks that bearer token."""

from __future__ import annotations

import httpx
import pytest

from tests.security.support import API_KEY
from tests.support.emulator import RunningEmulator


def get_instances(emulator: RunningEmulator, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{emulator.api_url}/instances", headers=headers, timeout=10)


def test_a_request_without_a_bearer_token_gets_401(locked_emulator: RunningEmulator) -> None:
    response = get_instances(locked_emulator, {})
    assert response.status_code == 401
    assert response.json() == {
        "error": "Invalid API token: send 'Authorization: Bearer <API key>'.",
        "status": 401,
    }


@pytest.mark.parametrize("header", ["Bearer", "Basic " + API_KEY.value, API_KEY.value])
def test_a_malformed_authorization_header_gets_401(
    locked_emulator: RunningEmulator, header: str
) -> None:
    assert get_instances(locked_emulator, {"Authorization": header}).status_code == 401


def test_a_request_with_another_key_gets_401(locked_emulator: RunningEmulator) -> None:
    response = get_instances(locked_emulator, {"Authorization": "Bearer not-the-key"})
    assert response.status_code == 401
    assert response.json()["error"] == "Invalid API token: this API key is not accepted."


def test_the_configured_key_is_accepted(locked_emulator: RunningEmulator) -> None:
    response = get_instances(locked_emulator, {"Authorization": f"Bearer {API_KEY.value}"})
    assert response.status_code == 200
    assert "instances" in response.json()
