"""POST /v1/servers refuses a bad body with 400 `invalid_input` naming the field, and
creates nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.hetzner.support import SERVER_BODY, InProcess


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "not_a_hostname"}, "name"),
        ({"server_type": "cx999"}, "server_type"),
        ({"image": "windows-95"}, "image"),
        ({"location": "mars1"}, "location"),
        ({"location": "ash"}, "location"),  # cx22 is sold in the EU only
        ({"labels": {"workflow": "x" * 64}}, "labels"),
        ({"labels": {"bad key": "v"}}, "labels"),
        ({"labels": {"k": "-starts-with-dash"}}, "labels"),
        ({"user_data": "x" * (32 * 1024 + 1)}, "user_data"),
        ({"ssh_keys": "not-a-list"}, "ssh_keys"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_field_is_invalid_input_naming_it(
    hz: InProcess, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**SERVER_BODY, **change}.items() if v is not None}
    response = await hz.client.post("/v1/servers", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["fields"][0]["name"] == field
    assert (await hz.client.get("/v1/servers")).json()["servers"] == []


async def test_body_that_is_not_json_is_a_json_error(hz: InProcess) -> None:
    response = await hz.client.post("/v1/servers", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "json_error"


async def test_image_name_resolves_to_the_server_types_architecture(hz: InProcess) -> None:
    server = (await hz.create(server_type="cax11"))["server"]
    assert server["image"]["architecture"] == "arm"


async def test_ssh_keys_mean_no_root_password(hz: InProcess) -> None:
    body = await hz.create(ssh_keys=["my-key"])
    assert body["root_password"] is None
