"""POST /v2/instances refuses bad bodies with 400 and a message naming the problem."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from emulator.vultr.validation import MAX_USER_DATA_BYTES
from tests.emulator.support import SERVER_BODY, InProcess


async def _refusal(emu: InProcess, body: Any) -> str:
    response = await emu.client.post("/v2/instances", json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["status"] == 400
    message: str = payload["error"]
    return message


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in SERVER_BODY.items() if k != field}


@pytest.mark.parametrize(
    "body, fragment",
    [
        (_without("region"), "Missing region"),
        ({**SERVER_BODY, "region": "xyz"}, "Invalid region 'xyz'"),
        ({**SERVER_BODY, "region": 5}, "region must be a string"),
        (_without("plan"), "Missing plan"),
        ({**SERVER_BODY, "plan": "vc2-99c-1tb"}, "Invalid plan 'vc2-99c-1tb'"),
        ({**SERVER_BODY, "region": "mia", "plan": "vcg-a16-2c-8g-2vram"},
         "not available in region 'mia'"),
        (_without("os_id"), "Missing operating system"),
        ({**SERVER_BODY, "app_id": 7}, "only one of"),
        ({**SERVER_BODY, "os_id": 99999}, "Invalid os_id 99999"),
        ({**SERVER_BODY, "os_id": "2284"}, "os_id must be an integer"),
        ({**SERVER_BODY, "user_data": "not base64!"}, "base64"),
        ({**SERVER_BODY, "tags": "a-tag"}, "tags must be an array of strings"),
        ({**SERVER_BODY, "tags": [1, 2]}, "tags must be an array of strings"),
        ({**SERVER_BODY, "sshkey_id": "key-1"}, "sshkey_id must be an array of strings"),
        ({**SERVER_BODY, "label": 12}, "label must be a string"),
        ({**SERVER_BODY, "hostname": ["h"]}, "hostname must be a string"),
        ({**SERVER_BODY, "enable_ipv6": "yes"}, "enable_ipv6 must be a boolean"),
        ({**SERVER_BODY, "backups": "sometimes"}, "backups must be"),
    ],
)  # fmt: skip
async def test_an_invalid_create_is_refused_with_a_specific_message(
    emu: InProcess, body: dict[str, Any], fragment: str
) -> None:
    assert fragment in await _refusal(emu, body)


async def test_user_data_over_64_kib_decoded_is_refused(emu: InProcess) -> None:
    too_big = base64.b64encode(b"x" * (MAX_USER_DATA_BYTES + 1)).decode()
    assert "64 KiB" in await _refusal(emu, {**SERVER_BODY, "user_data": too_big})


async def test_user_data_of_exactly_64_kib_is_accepted(emu: InProcess) -> None:
    await emu.create(user_data=base64.b64encode(b"x" * MAX_USER_DATA_BYTES).decode())


async def test_a_body_that_is_not_json_is_refused(emu: InProcess) -> None:
    response = await emu.client.post("/v2/instances", content=b"{nope")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


async def test_a_json_array_body_is_refused(emu: InProcess) -> None:
    assert "JSON object" in await _refusal(emu, [SERVER_BODY])


async def test_a_refused_create_makes_no_instance(emu: InProcess) -> None:
    await _refusal(emu, {**SERVER_BODY, "region": "xyz"})
    assert (await emu.client.get("/v2/instances")).json()["meta"]["total"] == 0


async def test_null_tags_are_accepted_as_no_tags(emu: InProcess) -> None:
    assert (await emu.create(tags=None))["tags"] == []


async def test_the_legacy_tag_field_becomes_a_tag(emu: InProcess) -> None:
    created = await emu.create(tag="legacy")
    assert created["tags"] == ["legacy"] and created["tag"] == "legacy"


async def test_a_create_echoes_label_hostname_tags_and_plan_details(emu: InProcess) -> None:
    user_data = base64.b64encode(b"#cloud-config\n").decode()
    created = await emu.create(
        label="web-1", hostname="web-1.example", tags=["a", "b"], sshkey_id=["k1"],
        user_data=user_data, plan="vc2-2c-4gb", region="fra",
    )  # fmt: skip
    assert (created["label"], created["hostname"], created["tags"]) == (
        "web-1", "web-1.example", ["a", "b"],
    )  # fmt: skip
    assert (created["plan"], created["region"], created["vcpu_count"], created["ram"]) == (
        "vc2-2c-4gb", "fra", 2, 4096,
    )  # fmt: skip
    assert (created["os_id"], created["os"]) == (2284, "Ubuntu 24.04 LTS x64")


@pytest.mark.parametrize(
    "source, expected_os_id",
    [({"app_id": 17}, 186), ({"image_id": "docker"}, 186), ({"snapshot_id": "snap-1"}, 164),
     ({"iso_id": "iso-1"}, 159)],
)  # fmt: skip
async def test_an_image_source_other_than_os_id_is_accepted(
    emu: InProcess, source: dict[str, Any], expected_os_id: int
) -> None:
    response = await emu.client.post("/v2/instances", json={**_without("os_id"), **source})
    assert response.status_code == 202, response.text
    assert response.json()["instance"]["os_id"] == expected_os_id


async def test_zero_valued_image_fields_count_as_unset(emu: InProcess) -> None:
    created = await emu.create(app_id=0, image_id="", snapshot_id="", iso_id="")
    assert created["os_id"] == 2284
