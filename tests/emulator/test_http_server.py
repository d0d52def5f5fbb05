"""The emulator as a real HTTP server (`python -m emulator`): every route's responses,
errors included, conform to Vultr's OpenAPI spec; auth, rate limit and faults over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.emulator.spec import (
    ERROR_BODY_SCHEMA,
    assert_conforms,
    instance_schema_fields,
)
from tests.support.emulator import TEST_API_KEY, RunningEmulator, running_emulator
from tests.support.waits import poll_until

SERVER_BODY = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284, "label": "http-test"}
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.fixture
def api(fresh_emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh_emulator.api_url, headers=AUTH, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def configured_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """Started with --api-key and startup --faults."""
    faults = {"rules": [{"route": "GET /v2/os", "status": 503, "count": 1}]}
    with running_emulator(
        tmp_path_factory.mktemp("keyed-emulator"),
        rate_limit=1000,
        seed=3,
        extra_args=["--api-key", "the-one-key", "--faults", json.dumps(faults)],
    ) as running:
        yield running


@pytest.fixture(scope="module")
def limited_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(
        tmp_path_factory.mktemp("limited-emulator"), rate_limit=3, seed=4
    ) as running:
        yield running


def _create(api: httpx.Client, **fields: Any) -> httpx.Response:
    return api.post("/instances", json={**SERVER_BODY, **fields})


def _anonymous(api: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The same request with no Authorization header."""
    return httpx.request(method, f"{str(api.base_url).rstrip('/')}{path}", **kwargs)


def _created_id(api: httpx.Client) -> str:
    response = _create(api)
    assert response.status_code == 202, response.text
    instance_id: str = response.json()["instance"]["id"]
    return instance_id


# Each scenario makes one request whose response must conform, and says which status.
SCENARIOS: dict[str, tuple[Callable[[httpx.Client], httpx.Response], int]] = {
    "create": (lambda api: _create(api), 202),
    "create with a bad region": (lambda api: _create(api, region="nowhere"), 400),
    "create without a token": (
        lambda api: _anonymous(api, "POST", "/instances", json=SERVER_BODY), 401),
    "list": (lambda api: (_created_id(api), api.get("/instances", params={"per_page": 1}))[1], 200),
    "list with a bad cursor": (lambda api: api.get("/instances", params={"cursor": "?"}), 400),
    "list without a token": (lambda api: _anonymous(api, "GET", "/instances"), 401),
    "get": (lambda api: api.get(f"/instances/{_created_id(api)}"), 200),
    "get an unknown instance": (lambda api: api.get("/instances/unknown-id"), 404),
    "delete": (lambda api: api.delete(f"/instances/{_created_id(api)}"), 204),
    "delete an unknown instance": (lambda api: api.delete("/instances/unknown-id"), 404),
    "halt": (lambda api: api.post(f"/instances/{_created_id(api)}/halt"), 204),
    "start": (lambda api: api.post(f"/instances/{_created_id(api)}/start"), 204),
    "reboot": (lambda api: api.post(f"/instances/{_created_id(api)}/reboot"), 204),
    "halt an unknown instance": (lambda api: api.post("/instances/unknown-id/halt"), 404),
    "regions": (lambda api: api.get("/regions"), 200),
    "plans": (lambda api: api.get("/plans", params={"per_page": 3}), 200),
    "os": (lambda api: api.get("/os"), 200),
    "account": (lambda api: (_created_id(api), api.get("/account"))[1], 200),
    "account without a token": (lambda api: _anonymous(api, "GET", "/account"), 401),
    "pending charges": (
        lambda api: (_created_id(api), api.get("/billing/pending-charges"))[1], 200),
}  # fmt: skip


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_response_conforms_to_the_spec(api: httpx.Client, scenario: str) -> None:
    make_request, status = SCENARIOS[scenario]
    response = make_request(api)
    assert response.status_code == status, response.text
    assert_conforms(response)


def test_a_create_response_has_every_instance_field(api: httpx.Client) -> None:
    instance = _create(api).json()["instance"]
    expected = instance_schema_fields() | {"v6_network", "v6_main_ip", "v6_network_size"}
    assert expected <= set(instance)


def test_a_get_response_has_every_instance_field_but_the_password(api: httpx.Client) -> None:
    instance = api.get(f"/instances/{_created_id(api)}").json()["instance"]
    expected = instance_schema_fields() | {"v6_network", "v6_main_ip", "v6_network_size"}
    assert expected - set(instance) == {"default_password"}


def test_the_account_total_is_a_number_of_dollars(api: httpx.Client) -> None:
    _created_id(api)
    account = api.get("/account").json()["account"]
    assert account["pending_charges"] == pytest.approx(5 / 672)


def test_an_instance_boots_on_the_real_clock(api: httpx.Client) -> None:
    instance_id = _created_id(api)  # the session emulator boots in 1 s

    def booted() -> dict | None:  # type: ignore[type-arg]
        instance = api.get(f"/instances/{instance_id}").json()["instance"]
        return instance if instance["server_status"] == "ok" else None

    instance = poll_until(booted, within=5, what=f"instance {instance_id} booted")
    assert (instance["status"], instance["power_status"]) == ("active", "running")


def test_a_dropped_create_closes_the_connection_unanswered(
    api: httpx.Client, fresh_emulator: RunningEmulator
) -> None:
    fresh_emulator.admin("POST", "/faults", json={"drop_create_response": {"count": 1}})
    with pytest.raises(httpx.RemoteProtocolError):
        _create(api, label="dropped")
    listed = api.get("/instances", params={"label": "dropped"}).json()
    assert listed["meta"]["total"] == 1
    log = fresh_emulator.admin("GET", "/requests").json()["requests"]
    assert (log[0]["status"], log[0]["dropped"]) == (202, True)


def test_an_injected_503_conforms_to_the_vultr_error_shape(
    api: httpx.Client, fresh_emulator: RunningEmulator
) -> None:
    rule = {"route": "GET /v2/instances/{instance-id}", "status": 503, "count": 1}
    fresh_emulator.admin("POST", "/faults", json={"rules": [rule]})
    response = api.get(f"/instances/{_created_id(api)}")
    assert response.status_code == 503
    assert_conforms(response)


def test_a_locked_delete_conforms_to_the_vultr_error_shape(
    api: httpx.Client, fresh_emulator: RunningEmulator
) -> None:
    instance_id = _created_id(api)
    fresh_emulator.admin("POST", "/faults", json={"locked_delete": {"count": 1}})
    response = api.delete(f"/instances/{instance_id}")
    assert response.status_code == 500
    assert_conforms(response)


def test_the_rate_limit_answers_429_with_retry_after(limited_emulator: RunningEmulator) -> None:
    limited_emulator.reset()
    with httpx.Client(base_url=limited_emulator.api_url, headers=AUTH, timeout=10) as api:
        responses = [api.get("/account") for _ in range(6)]
    statuses = [r.status_code for r in responses]
    assert statuses.count(429) >= 1 and statuses[:3] == [200, 200, 200]
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert_conforms(refused)


def test_admin_routes_skip_the_rate_limit(limited_emulator: RunningEmulator) -> None:
    limited_emulator.reset()
    with httpx.Client(base_url=limited_emulator.base, headers=AUTH, timeout=10) as client:
        api_statuses = [client.get("/v2/account").status_code for _ in range(5)]
        admin_statuses = [client.get("/admin/config").status_code for _ in range(10)]
    assert 429 in api_statuses
    assert admin_statuses == [200] * 10


def test_with_an_api_key_only_that_key_is_accepted(configured_emulator: RunningEmulator) -> None:
    url = f"{configured_emulator.api_url}/account"
    wrong = httpx.get(url, headers={"Authorization": "Bearer some-other-key"})
    assert wrong.status_code == 401
    assert_conforms(wrong)
    right = httpx.get(url, headers={"Authorization": "Bearer the-one-key"})
    assert right.status_code == 200


def test_without_an_api_key_any_token_is_accepted(fresh_emulator: RunningEmulator) -> None:
    url = f"{fresh_emulator.api_url}/account"
    assert httpx.get(url, headers={"Authorization": "Bearer anything"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Basic abc"}).status_code == 401


def test_the_catalog_is_public_as_the_spec_says(configured_emulator: RunningEmulator) -> None:
    response = httpx.get(f"{configured_emulator.api_url}/regions")
    assert response.status_code == 200


def test_faults_given_on_the_command_line_are_in_force(
    configured_emulator: RunningEmulator,
) -> None:
    faults = configured_emulator.admin("GET", "/faults").json()
    assert faults["rules"][0]["route"] == "GET /v2/os"
    config = configured_emulator.admin("GET", "/config").json()
    assert (config["seed"], config["api_key_required"]) == (3, True)


def test_each_request_is_logged_to_stdout_without_the_token(
    configured_emulator: RunningEmulator,
) -> None:
    marker = f"/v2/instances/log-marker-{time.monotonic_ns()}"
    httpx.get(
        f"{configured_emulator.base}{marker}", headers={"Authorization": "Bearer the-one-key"}
    )

    def logged() -> str | None:
        text = configured_emulator.process.log_path.read_text()
        return text if marker in text else None

    text = poll_until(logged, within=5, interval=0.05, what=f"{marker} in the emulator log")
    line = next(line for line in text.splitlines() if marker in line)
    assert '"GET ' in line and " 404 " in line
    assert "the-one-key" not in text


def test_an_unknown_route_is_a_vultr_style_404(api: httpx.Client) -> None:
    response = api.get("/nothing-here")
    assert response.status_code == 404
    assert set(response.json()) == set(ERROR_BODY_SCHEMA["required"])
