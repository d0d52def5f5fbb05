"""What every /v1 request passes: the project rate limit with its headers, bearer auth,
and injected faults in Hetzner's error body."""

from __future__ import annotations

from tests.emulator.hetzner.support import SERVER_BODY, InProcess, MakeHetzner, client_for


async def test_every_answer_carries_the_rate_limit_headers(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(rate_limit=5, rate_limit_refill_per_second=1.0)
    first = await hz.client.get("/v1/servers")
    missing = await hz.client.get("/v1/servers/1")
    assert first.headers["RateLimit-Limit"] == "5"
    assert first.headers["RateLimit-Remaining"] == "4"
    assert missing.status_code == 404 and missing.headers["RateLimit-Remaining"] == "3"
    now = int(hz.clock.now.timestamp())
    assert int(missing.headers["RateLimit-Reset"]) == now + 2  # two requests to refill


async def test_an_empty_bucket_answers_429_until_it_refills(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(rate_limit=2, rate_limit_refill_per_second=0.5)
    for _ in range(2):
        assert (await hz.client.get("/v1/locations")).status_code == 200
    refused = await hz.client.get("/v1/locations")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["Retry-After"] == "2"
    hz.clock.advance(2)
    assert (await hz.client.get("/v1/locations")).status_code == 200


async def test_the_limit_is_per_project_token(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(rate_limit=1)
    other = client_for(hz.app, token="another-project")
    try:
        assert (await hz.client.get("/v1/locations")).status_code == 200
        assert (await hz.client.get("/v1/locations")).status_code == 429
        assert (await other.get("/v1/locations")).status_code == 200
    finally:
        await other.aclose()


async def test_admin_routes_are_not_rate_limited(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(rate_limit=1)
    await hz.client.get("/v1/locations")
    assert (await hz.client.get("/admin/config")).status_code == 200
    assert "RateLimit-Limit" not in (await hz.client.get("/health")).headers


async def test_no_token_or_a_wrong_one_is_unauthorized(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(api_key="right")
    anonymous = client_for(hz.app, token=None)
    wrong = client_for(hz.app, token="wrong")
    try:
        for client in (anonymous, wrong):
            response = await client.get("/v1/servers")
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
    finally:
        await anonymous.aclose()
        await wrong.aclose()


async def test_fault_rules_answer_in_hetzners_error_body(hz: InProcess) -> None:
    rules = [
        {"route": "POST /v1/servers", "status": 503, "count": 1},
        {"route": "GET /v1/servers/{id}", "status": 429, "count": 1, "retry_after": 3},
    ]
    assert (await hz.client.post("/admin/faults", json={"rules": rules})).status_code == 200
    failed = await hz.client.post("/v1/servers", json=SERVER_BODY)
    created = await hz.client.post("/v1/servers", json=SERVER_BODY)
    server_id = created.json()["server"]["id"]
    limited = await hz.client.get(f"/v1/servers/{server_id}")
    assert failed.status_code == 503 and failed.json()["error"]["code"] == "unavailable"
    assert created.status_code == 201  # the failed create made nothing: the name was free
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"


async def test_fault_routes_are_checked_against_the_hetzner_routes(hz: InProcess) -> None:
    vultr_route = {"rules": [{"route": "POST /v2/instances", "status": 500}]}
    response = await hz.client.post("/admin/faults", json=vultr_route)
    assert response.status_code == 400
    assert "POST /v1/servers" in response.json()["error"]["message"]


async def test_locked_delete_answers_423_and_keeps_the_server(hz: InProcess) -> None:
    server_id = (await hz.create())["server"]["id"]
    await hz.client.post("/admin/faults", json={"locked_delete": {"count": 1}})
    locked = await hz.client.delete(f"/v1/servers/{server_id}")
    assert locked.status_code == 423 and locked.json()["error"]["code"] == "locked"
    assert (await hz.server(server_id))["status"] != "deleting"


async def test_request_log_names_hetzner_routes(hz: InProcess) -> None:
    await hz.create()
    await hz.client.get("/v1/servers/12")
    log = (await hz.client.get("/admin/requests")).json()["requests"]
    assert [(e["route"], e["status"]) for e in log] == [
        ("POST /v1/servers", 201),
        ("GET /v1/servers/{id}", 404),
    ]


async def test_config_shows_the_hetzner_settings(make_hetzner: MakeHetzner) -> None:
    hz = make_hetzner(api_key="secret-key", rate_limit=7)
    config = (await hz.client.get("/admin/config")).json()
    assert config["provider"] == "hetzner" and config["rate_limit"] == 7
    assert config["api_key_required"] is True and "secret-key" not in str(config)
