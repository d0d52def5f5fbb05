"""Injected failures, latency, dropped create responses and locked deletes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from emulator import FaultConfig, ResponseDropped
from tests.emulator.support import SERVER_BODY, InProcess, MakeEmulator


async def _set_faults(emu: InProcess, faults: dict[str, Any]) -> httpx.Response:
    response = await emu.client.post("/admin/faults", json=faults)
    assert response.status_code == 200, response.text
    return response


async def _account_statuses(emu: InProcess, count: int) -> list[int]:
    return [(await emu.client.get("/v2/account")).status_code for _ in range(count)]


async def test_a_counted_rule_fails_the_next_n_matching_requests_then_is_spent(
    emu: InProcess,
) -> None:
    await _set_faults(emu, {"rules": [{"route": "GET /v2/account", "status": 503, "count": 2}]})
    assert await _account_statuses(emu, 4) == [503, 503, 200, 200]
    remaining = (await emu.client.get("/admin/faults")).json()["rules"][0]["count"]
    assert remaining == 0


async def test_a_rule_only_fails_its_own_route(emu: InProcess) -> None:
    await _set_faults(emu, {"rules": [{"route": "GET /v2/account", "status": 500, "count": 5}]})
    assert (await emu.client.get("/v2/regions")).status_code == 200
    assert (await emu.client.get("/v2/account")).status_code == 500


async def test_a_star_rule_matches_every_route(emu: InProcess) -> None:
    await _set_faults(emu, {"rules": [{"route": "*", "status": 500, "count": 2}]})
    assert (await emu.client.get("/v2/regions")).status_code == 500
    assert (await emu.client.post("/v2/instances", json=SERVER_BODY)).status_code == 500
    assert (await emu.client.get("/v2/regions")).status_code == 200


async def test_an_injected_failure_has_the_vultr_error_body(emu: InProcess) -> None:
    await _set_faults(emu, {"rules": [{"route": "GET /v2/account", "status": 500}]})
    response = await emu.client.get("/v2/account")
    assert response.json() == {"error": response.json()["error"], "status": 500}
    assert response.json()["error"]


async def test_an_injected_429_carries_retry_after(emu: InProcess) -> None:
    await _set_faults(
        emu, {"rules": [{"route": "GET /v2/account", "status": 429, "count": 1, "retry_after": 3}]}
    )
    response = await emu.client.get("/v2/account")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


async def test_a_failed_create_makes_no_instance(emu: InProcess) -> None:
    await _set_faults(emu, {"rules": [{"route": "POST /v2/instances", "status": 500, "count": 1}]})
    assert (await emu.client.post("/v2/instances", json=SERVER_BODY)).status_code == 500
    assert (await emu.client.get("/v2/instances")).json()["meta"]["total"] == 0


async def test_a_rate_rule_fails_about_that_fraction(emu: InProcess) -> None:
    await _set_faults(emu, {"rules": [{"route": "GET /v2/account", "status": 503, "rate": 0.3}]})
    failures = (await _account_statuses(emu, 400)).count(503)
    assert 80 <= failures <= 160  # 120 expected; a fixed seed makes this exact per run


async def test_the_same_seed_and_faults_fail_the_same_requests(
    make_emulator: MakeEmulator,
) -> None:
    faults = {"rules": [{"route": "GET /v2/account", "status": 503, "rate": 0.5}]}
    runs = []
    for _ in range(2):
        emu = make_emulator(seed=99)
        await _set_faults(emu, faults)
        runs.append(await _account_statuses(emu, 40))
    assert runs[0] == runs[1]
    assert 503 in runs[0] and 200 in runs[0]


async def test_a_different_seed_fails_different_requests(make_emulator: MakeEmulator) -> None:
    faults = {"rules": [{"route": "GET /v2/account", "status": 503, "rate": 0.5}]}
    runs = []
    for seed in (1, 2):
        emu = make_emulator(seed=seed)
        await _set_faults(emu, faults)
        runs.append(await _account_statuses(emu, 40))
    assert runs[0] != runs[1]


async def test_the_same_seed_creates_the_same_ids(make_emulator: MakeEmulator) -> None:
    ids = []
    for _ in range(2):
        emu = make_emulator(seed=5)
        ids.append([(await emu.create())["id"] for _ in range(3)])
    assert ids[0] == ids[1] and len(set(ids[0])) == 3


async def test_faults_given_at_start_are_in_force(make_emulator: MakeEmulator) -> None:
    faults = FaultConfig.model_validate(
        {"rules": [{"route": "GET /v2/account", "status": 503, "count": 1}]}
    )
    emu = make_emulator(faults=faults)
    assert await _account_statuses(emu, 2) == [503, 200]


async def test_clearing_faults_stops_them(emu: InProcess) -> None:
    await _set_faults(emu, {"rules": [{"route": "GET /v2/account", "status": 503}]})
    cleared = await emu.client.delete("/admin/faults")
    assert cleared.json()["rules"] == []
    assert await _account_statuses(emu, 2) == [200, 200]


async def test_latency_delays_every_request(emu: InProcess) -> None:
    await _set_faults(emu, {"latency_ms": 150})
    started = time.perf_counter()
    await emu.client.get("/v2/regions")
    assert time.perf_counter() - started >= 0.15


async def test_route_latency_delays_only_that_route(emu: InProcess) -> None:
    await _set_faults(emu, {"route_latency_ms": {"GET /v2/account": 200}})
    started = time.perf_counter()
    await emu.client.get("/v2/regions")
    assert time.perf_counter() - started < 0.2
    started = time.perf_counter()
    await emu.client.get("/v2/account")
    assert time.perf_counter() - started >= 0.2


async def test_a_dropped_create_response_still_creates_and_bills_the_instance(
    emu: InProcess,
) -> None:
    await _set_faults(emu, {"drop_create_response": {"count": 1}})
    with pytest.raises(ResponseDropped):
        await emu.client.post("/v2/instances", json={**SERVER_BODY, "label": "lost"})
    listed = (await emu.client.get("/v2/instances", params={"label": "lost"})).json()
    assert listed["meta"]["total"] == 1
    ledger = (await emu.client.get("/admin/ledger")).json()
    assert [row["label"] for row in ledger["ledger"]] == ["lost"] and ledger["total"] > 0
    assert (await emu.client.post("/v2/instances", json=SERVER_BODY)).status_code == 202


async def test_a_locked_delete_answers_500_and_the_instance_stays(emu: InProcess) -> None:
    created = await emu.create()
    await _set_faults(emu, {"locked_delete": {"count": 1}})
    refused = await emu.client.delete(f"/v2/instances/{created['id']}")
    assert refused.status_code == 500
    assert refused.json() == {
        "error": "Unable to destroy server: Unable to remove VM: Server is currently locked",
        "status": 500,
    }
    assert (await emu.client.get(f"/v2/instances/{created['id']}")).status_code == 200
    assert (await emu.client.delete(f"/v2/instances/{created['id']}")).status_code == 204


async def test_a_trigger_with_rate_and_count_fires_at_most_count_times(emu: InProcess) -> None:
    await _set_faults(emu, {"locked_delete": {"rate": 1.0, "count": 2}})
    ids = [(await emu.create())["id"] for _ in range(3)]
    statuses = [(await emu.client.delete(f"/v2/instances/{i}")).status_code for i in ids]
    assert statuses == [500, 500, 204]


@pytest.mark.parametrize(
    "faults, fragment",
    [
        ({"rules": [{"route": "POST /v2/instance", "status": 500}]}, "match no emulated route"),
        ({"rules": [{"route": "*", "status": 404}]}, "status"),
        ({"rules": [{"route": "*", "status": 500, "rate": 2}]}, "rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"drop_create_response": {"count": -1}}, "count"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_an_invalid_fault_configuration_is_refused(
    emu: InProcess, faults: dict[str, Any], fragment: str
) -> None:
    response = await emu.client.post("/admin/faults", json=faults)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
