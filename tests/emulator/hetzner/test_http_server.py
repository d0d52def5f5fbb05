"""`python -m emulator --provider hetzner` as a real HTTP server: the routes over the
wire, a dropped create response, and the state file across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator.hetzner.spec import assert_conforms
from tests.emulator.hetzner.support import SERVER_BODY
from tests.support.emulator import TEST_API_KEY, RunningEmulator, start_emulator
from tests.support.waits import poll_until

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def _check(response: httpx.Response) -> None:
    response.read()
    assert_conforms(response)


def _client(emulator: RunningEmulator) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.api_url, headers=AUTH, timeout=10, event_hooks={"response": [_check]}
    )


def test_serves_hetzner_v1_over_http_and_deletes_through_deleting(
    fresh_hetzner: RunningEmulator,
) -> None:
    with _client(fresh_hetzner) as api:
        created = api.post("/servers", json=SERVER_BODY)
        assert created.status_code == 201
        assert created.headers["RateLimit-Limit"] == "100000"
        server_id = created.json()["server"]["id"]
        poll_until(
            lambda: api.get(f"/servers/{server_id}").json()["server"]["status"] == "running",
            within=10,
            what="the server running",
        )
        assert api.delete(f"/servers/{server_id}").status_code == 200
        assert api.get(f"/servers/{server_id}").json()["server"]["status"] == "deleting"
        poll_until(
            lambda: api.get(f"/servers/{server_id}").status_code == 404,
            within=10,
            what="the deleted server gone",
        )
        for path in ("/server_types", "/locations", "/images"):
            assert api.get(path).status_code == 200


def test_a_dropped_create_response_still_creates_the_server(
    fresh_hetzner: RunningEmulator,
) -> None:
    fresh_hetzner.admin("POST", "/faults", json={"drop_create_response": {"count": 1}})
    with _client(fresh_hetzner) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            api.post("/servers", json=SERVER_BODY)
        listed = api.get("/servers", params={"name": SERVER_BODY["name"]}).json()["servers"]
        assert [s["name"] for s in listed] == [SERVER_BODY["name"]]
    log = fresh_hetzner.admin("GET", "/requests").json()["requests"]
    assert (log[0]["status"], log[0]["dropped"]) == (201, True)


def test_the_state_file_keeps_servers_and_the_ledger_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "hetzner-state.json"
    options: dict[str, Any] = {"boot_seconds": 0, "state_file": state, "seed": 3}
    first = start_emulator(tmp_path, "hetzner", **options)
    try:
        with _client(first) as api:
            kept = api.post("/servers", json=SERVER_BODY).json()["server"]
            gone = api.post("/servers", json={**SERVER_BODY, "name": "web-2"}).json()["server"]
            api.delete(f"/servers/{gone['id']}")
        ledger = first.admin("GET", "/ledger").json()
    finally:
        first.process.stop()
    second = start_emulator(tmp_path, "hetzner", **options)
    try:
        with _client(second) as api:
            again = api.get(f"/servers/{kept['id']}").json()["server"]
            assert (again["name"], again["labels"]) == (kept["name"], kept["labels"])
            duplicate = api.post("/servers", json=SERVER_BODY)
            assert duplicate.json()["error"]["code"] == "uniqueness_error"
            fresh = api.post("/servers", json={**SERVER_BODY, "name": "web-3"}).json()["server"]
            assert fresh["id"] not in (kept["id"], gone["id"])
        assert second.admin("GET", "/ledger").json()["ledger"][:2] == ledger["ledger"]
    finally:
        second.process.stop()
