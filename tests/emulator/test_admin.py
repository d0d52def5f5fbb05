"""Admin routes: health, reset, request log, config; no token needed."""

from __future__ import annotations

from pydantic import SecretStr

from tests.emulator.support import SERVER_BODY, InProcess, MakeEmulator, client_for


async def test_health_answers_ok(emu: InProcess) -> None:
    response = await emu.client.get("/health")
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_admin_routes_need_no_token(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(api_key=SecretStr("only-this"))
    anonymous = client_for(emu.app, token=None)
    try:
        assert (await anonymous.get("/admin/config")).status_code == 200
        assert (await anonymous.post("/admin/reset")).status_code == 200
    finally:
        await anonymous.aclose()


async def test_reset_empties_instances_ledger_log_and_faults(emu: InProcess) -> None:
    await emu.create()
    await emu.client.post("/admin/faults", json={"latency_ms": 5})
    assert (await emu.client.post("/admin/reset")).status_code == 200
    assert (await emu.client.get("/admin/requests")).json() == {"requests": []}
    assert (await emu.client.get("/v2/instances")).json()["meta"]["total"] == 0
    assert (await emu.client.get("/admin/ledger")).json() == {"ledger": [], "total": 0.0}
    assert (await emu.client.get("/admin/faults")).json()["latency_ms"] == 0


async def test_reset_restarts_the_seeded_id_sequence(emu: InProcess) -> None:
    first = await emu.create()
    await emu.client.post("/admin/reset")
    assert (await emu.create())["id"] == first["id"]


async def test_the_request_log_names_each_v2_request_by_its_spec_route(emu: InProcess) -> None:
    emu.clock.advance(5)
    created = await emu.create()
    await emu.client.get(f"/v2/instances/{created['id']}")
    await emu.client.get("/v2/instances/missing")
    await emu.client.get("/v2/nowhere")
    await emu.client.get("/admin/config")
    log = (await emu.client.get("/admin/requests")).json()["requests"]
    assert [(e["method"], e["path"], e["route"], e["status"]) for e in log] == [
        ("POST", "/v2/instances", "POST /v2/instances", 202),
        ("GET", f"/v2/instances/{created['id']}", "GET /v2/instances/{instance-id}", 200),
        ("GET", "/v2/instances/missing", "GET /v2/instances/{instance-id}", 404),
        ("GET", "/v2/nowhere", None, 404),
    ]
    assert log[0]["time"] == emu.clock.now.timestamp()


async def test_the_request_log_records_refused_requests(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(rate_limit=1)
    anonymous = client_for(emu.app, token=None, ip="192.0.2.200")
    try:
        await anonymous.post("/v2/instances", json=SERVER_BODY)
    finally:
        await anonymous.aclose()
    await emu.client.get("/v2/account")
    await emu.client.get("/v2/account")
    log = (await emu.client.get("/admin/requests")).json()["requests"]
    assert [e["status"] for e in log] == [401, 200, 429]


async def test_config_shows_the_settings_in_force_but_not_the_key(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator(
        billing_period_seconds=7, boot_seconds=3, rate_limit=9, seed=11,
        api_key=SecretStr("hush-hush"), get_404_seconds=2,
    )  # fmt: skip
    response = await emu.client.get("/admin/config")
    assert response.json() == {
        "billing_period_seconds": 7.0, "boot_seconds": 3.0, "rate_limit": 9, "seed": 11,
        "get_404_seconds": 2.0, "api_key_required": True,
    }  # fmt: skip
    assert "hush-hush" not in response.text
