"""Servers: create, get, delete (an action, then `deleting`, then gone), unique names,
and the lifecycle initializing -> starting -> running from the clock."""

from __future__ import annotations

from tests.emulator.hetzner.support import SERVER_BODY, InProcess


async def test_create_answers_201_with_server_action_and_password(hz: InProcess) -> None:
    body = await hz.create(labels={"managed-by": "vultr-lifecycle", "workflow": "server-web-1"})
    server = body["server"]
    assert server["name"] == "web-1"
    assert server["status"] == "initializing"
    assert server["labels"] == {"managed-by": "vultr-lifecycle", "workflow": "server-web-1"}
    assert server["server_type"]["name"] == "cx22"
    assert server["datacenter"]["location"]["name"] == "fsn1"
    assert server["public_net"]["ipv4"] is None
    assert body["action"]["command"] == "create_server"
    assert body["action"]["status"] == "running"
    assert body["root_password"]


async def test_status_goes_initializing_starting_running(hz: InProcess) -> None:
    server_id = (await hz.create())["server"]["id"]
    seen = []
    for _ in range(3):
        seen.append((await hz.server(server_id))["status"])
        hz.clock.advance(5)
    assert seen == ["initializing", "starting", "running"]
    running = await hz.server(server_id)
    assert running["public_net"]["ipv4"]["ip"]


async def test_create_action_succeeds_once_booted(hz: InProcess) -> None:
    action_id = (await hz.create())["action"]["id"]
    first = (await hz.client.get(f"/v1/actions/{action_id}")).json()["action"]
    hz.clock.advance(10)
    done = (await hz.client.get(f"/v1/actions/{action_id}")).json()["action"]
    assert first["status"] == "running" and first["finished"] is None
    assert done["status"] == "success" and done["progress"] == 100


async def test_a_second_create_with_the_same_name_is_a_uniqueness_error(hz: InProcess) -> None:
    await hz.create()
    response = await hz.client.post("/v1/servers", json=SERVER_BODY)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "uniqueness_error"
    listed = (await hz.client.get("/v1/servers")).json()["servers"]
    assert len(listed) == 1


async def test_delete_returns_an_action_then_deleting_then_gone(hz: InProcess) -> None:
    server_id = (await hz.create())["server"]["id"]
    response = await hz.client.delete(f"/v1/servers/{server_id}")
    assert response.status_code == 200
    action = response.json()["action"]
    assert action["command"] == "delete_server" and action["status"] == "running"
    assert (await hz.server(server_id))["status"] == "deleting"
    again = await hz.client.delete(f"/v1/servers/{server_id}")
    assert again.status_code == 423 and again.json()["error"]["code"] == "locked"
    hz.clock.advance(4)
    gone = await hz.client.get(f"/v1/servers/{server_id}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    finished = (await hz.client.get(f"/v1/actions/{action['id']}")).json()["action"]
    assert finished["status"] == "success"


async def test_the_name_is_free_again_once_the_server_is_gone(hz: InProcess) -> None:
    server_id = (await hz.create())["server"]["id"]
    await hz.client.delete(f"/v1/servers/{server_id}")
    during = await hz.client.post("/v1/servers", json=SERVER_BODY)
    hz.clock.advance(4)
    after = await hz.client.post("/v1/servers", json=SERVER_BODY)
    assert during.status_code == 409
    assert after.status_code == 201


async def test_unknown_server_and_non_numeric_id(hz: InProcess) -> None:
    missing = await hz.client.get("/v1/servers/999")
    bad = await hz.client.get("/v1/servers/abc")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"


async def test_server_limit_refuses_with_resource_limit_exceeded(make_hetzner) -> None:  # type: ignore[no-untyped-def]
    hz = make_hetzner(server_limit=1)
    await hz.create()
    response = await hz.client.post("/v1/servers", json={**SERVER_BODY, "name": "web-2"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "resource_limit_exceeded"
