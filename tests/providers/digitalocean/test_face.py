"""The DigitalOcean face of the emulator, in process; every /v2 answer is validated
against DigitalOcean's OpenAPI spec by the client's response hook (conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import ResponseDropped
from emulator.__main__ import parse_args
from emulator.digitalocean.catalog import MONTHLY_CAP_HOURS, SIZE_BY_SLUG
from emulator.digitalocean.config import DigitalOceanConfig
from tests.emulator.support import START
from tests.providers.digitalocean.support import DoEmulator


async def _all_pages(do: DoEmulator, **params: Any) -> list[dict[str, Any]]:
    pages = []
    response = await do.client.get("/v2/droplets", params=params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        following = response.json()["links"].get("pages", {}).get("next")
        if not following:
            return pages
        response = await do.client.get(following)


async def test_a_created_droplet_is_new_then_active_with_an_address(do: DoEmulator):
    response = await do.client.post(
        "/v2/droplets",
        json={
            "name": "web-1",
            "region": "nyc3",
            "size": "s-1vcpu-1gb",
            "image": "ubuntu-24-04-x64",
            "tags": ["managed-by:x", "workflow:server-a"],
        },
    )
    assert response.status_code == 202
    body = response.json()
    assert body["links"]["actions"][0]["rel"] == "create"
    droplet = body["droplet"]
    assert droplet["status"] == "new" and droplet["networks"]["v4"] == []
    assert droplet["created_at"] == "2024-01-10T12:00:00Z"
    assert droplet["tags"] == ["managed-by:x", "workflow:server-a"]
    do.clock.advance(10)
    shown = (await do.client.get(f"/v2/droplets/{droplet['id']}")).json()["droplet"]
    assert shown["status"] == "active" and shown["networks"]["v4"][0]["type"] == "public"


async def test_45_droplets_come_in_three_pages_following_links_next(do: DoEmulator):
    ids = [(await do.create(name=f"d-{i}"))["id"] for i in range(45)]
    pages = await _all_pages(do)
    assert [len(p["droplets"]) for p in pages] == [20, 20, 5]
    assert [d["id"] for p in pages for d in p["droplets"]] == ids
    assert all(p["meta"]["total"] == 45 for p in pages)
    assert "next" not in pages[-1]["links"]["pages"] and "prev" in pages[-1]["links"]["pages"]


async def test_per_page_is_served_at_most_200_and_a_bad_page_is_a_400(do: DoEmulator):
    await do.create()
    assert (await do.client.get("/v2/droplets", params={"per_page": 500})).status_code == 200
    refused = await do.client.get("/v2/droplets", params={"page": "0"})
    assert refused.status_code == 400 and refused.json()["id"] == "bad_request"


@pytest.mark.parametrize("ignored", [False, True])
async def test_tag_name_selects_droplets_unless_filters_are_ignored(do: DoEmulator, ignored: bool):
    if ignored:
        await do.client.post("/admin/faults", json={"ignore_list_filters": True})
    tagged = await do.create(name="a", tags=["workflow:server-a"])
    await do.create(name="b", tags=["workflow:server-b"])
    listed = (await do.client.get("/v2/droplets", params={"tag_name": "workflow:server-a"})).json()
    names = [d["name"] for d in listed["droplets"]]
    assert names == (["a", "b"] if ignored else ["a"])
    assert listed["droplets"][0]["id"] == tagged["id"]


async def test_delete_answers_204_then_the_droplet_is_404(do: DoEmulator):
    droplet = await do.create()
    assert (await do.client.delete(f"/v2/droplets/{droplet['id']}")).status_code == 204
    for method in ("GET", "DELETE"):
        gone = await do.client.request(method, f"/v2/droplets/{droplet['id']}")
        assert gone.status_code == 404
        assert gone.json()["id"] == "not_found" and gone.json()["request_id"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"size": "s-9vcpu-9gb"}, "Size 's-9vcpu-9gb' is not available"),
        ({"region": "tor1", "size": "c-2"}, "not available in region 'tor1'"),
        ({"region": "xyz9"}, "Region 'xyz9'"),
        ({"image": "windows-95"}, "Image 'windows-95'"),
        ({"tags": ["has space"]}, "Tag 'has space' is invalid"),
        ({"name": "-bad-"}, "Name '-bad-' is invalid"),
        ({"user_data": "x" * (64 * 1024 + 1)}, "the limit is 65536"),
    ],
)
async def test_a_bad_create_is_a_422_naming_the_problem_and_creates_nothing(
    do: DoEmulator, fields: dict[str, Any], named: str
):
    response = await do.client.post(
        "/v2/droplets",
        json={
            "name": "web-1",
            "region": "nyc3",
            "size": "s-1vcpu-1gb",
            "image": "ubuntu-24-04-x64",
            **fields,
        },
    )
    assert response.status_code == 422
    assert response.json()["id"] == "unprocessable_entity" and named in response.json()["message"]
    assert (await do.client.get("/v2/droplets")).json()["meta"]["total"] == 0


async def test_the_catalog_prices_hourly_at_the_monthly_price_over_672(do: DoEmulator):
    sizes = (await do.client.get("/v2/sizes", params={"per_page": 200})).json()["sizes"]
    one = next(s for s in sizes if s["slug"] == "s-1vcpu-1gb")
    assert one["price_hourly"] == pytest.approx(one["price_monthly"] / MONTHLY_CAP_HOURS, abs=1e-5)
    regions = (await do.client.get("/v2/regions")).json()["regions"]
    assert "s-1vcpu-1gb" in next(r for r in regions if r["slug"] == "nyc3")["sizes"]
    images = (await do.client.get("/v2/images")).json()["images"]
    assert "ubuntu-24-04-x64" in {i["slug"] for i in images}


async def test_a_request_without_a_token_is_a_401(make_do):  # type: ignore[no-untyped-def]
    refused = await make_do(token=None).client.get("/v2/droplets")
    assert refused.status_code == 401 and refused.json()["id"] == "unauthorized"


async def test_the_minute_limit_refuses_with_headers_until_the_window_moves(make_do):  # type: ignore[no-untyped-def]
    do = make_do(rate_limit=3)
    answers = [await do.client.get("/v2/sizes") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["4999", "4998", "4997"]
    refused = answers[3]
    assert refused.json()["id"] == "too_many_requests"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert int(refused.headers["ratelimit-reset"]) == int(START.timestamp()) + 60
    do.clock.advance(60)
    assert (await do.client.get("/v2/sizes")).status_code == 200


async def test_the_hourly_limit_holds_across_minutes(make_do):  # type: ignore[no-untyped-def]
    do = make_do(rate_limit=0, rate_limit_hourly=2)
    assert (await do.client.get("/v2/sizes")).status_code == 200
    do.clock.advance(120)
    assert (await do.client.get("/v2/sizes")).status_code == 200
    refused = await do.client.get("/v2/sizes")
    assert refused.status_code == 429
    assert int(refused.headers["ratelimit-reset"]) == int(START.timestamp()) + 3600


async def _ledger(do: DoEmulator) -> dict[str, Any]:
    body: dict[str, Any] = (await do.client.get("/admin/ledger")).json()
    return body


async def test_the_ledger_bills_per_second_with_the_minimums(do: DoEmulator):
    short = await do.create(name="short")
    do.clock.advance(30)
    await do.client.delete(f"/v2/droplets/{short['id']}")
    big = await do.create(name="big", size="m-2vcpu-16gb")
    do.clock.advance(7200.4)
    rows = {r["name"]: r for r in (await _ledger(do))["ledger"]}
    assert rows["short"]["seconds"] == 60 and rows["short"]["total"] == pytest.approx(0.01)
    assert rows["big"]["seconds"] == 7201 and rows["big"]["deleted_at"] is None
    per_second = SIZE_BY_SLUG["m-2vcpu-16gb"].price_monthly / (MONTHLY_CAP_HOURS * 3600)
    assert rows["big"]["total"] == pytest.approx(7201 * per_second)
    assert big["id"] == int(rows["big"]["instance_id"])


async def test_a_month_of_a_droplet_costs_at_most_its_monthly_price(do: DoEmulator):
    do.clock.advance(21.5 * 86400)  # 2024-02-01T00:00Z
    await do.create(name="long")
    do.clock.advance(20 * 86400)  # 480 h, under the 672 h cap
    assert (await _ledger(do))["total"] == pytest.approx(6 * 480 / 672)
    do.clock.advance(9 * 86400 - 1)  # 696 h in February: capped at the monthly $6
    assert (await _ledger(do))["total"] == pytest.approx(6.0)
    do.clock.advance(3600)  # an hour into March is billed again
    assert (await _ledger(do))["total"] == pytest.approx(6.0 + 6 / 672, rel=1e-3)


async def test_faults_fail_requests_lock_deletes_and_drop_creates(do: DoEmulator):
    faults = {
        "rules": [{"route": "POST /v2/droplets", "status": 500, "count": 1}],
        "locked_delete": {"count": 1},
        "drop_create_response": {"count": 1},
    }
    assert (await do.client.post("/admin/faults", json=faults)).status_code == 200
    failed = await do.client.post("/v2/droplets", json={"name": "x"})
    assert failed.status_code == 500 and failed.json()["id"] == "server_error"
    with pytest.raises(ResponseDropped):
        await do.client.post(
            "/v2/droplets",
            json={
                "name": "dropped",
                "region": "nyc3",
                "size": "s-1vcpu-1gb",
                "image": "ubuntu-24-04-x64",
            },
        )
    (dropped,) = (await do.client.get("/v2/droplets")).json()["droplets"]
    locked = await do.client.delete(f"/v2/droplets/{dropped['id']}")
    assert locked.status_code == 422 and "pending event" in locked.json()["message"]
    assert (await do.client.delete(f"/v2/droplets/{dropped['id']}")).status_code == 204


async def test_state_file_keeps_droplets_across_restarts(tmp_path, make_do):  # type: ignore[no-untyped-def]
    state = tmp_path / "do.json"
    first = make_do(state_file=state)
    made = await first.create(name="kept", tags=["a:b"])
    again = make_do(state_file=state)
    kept = (await again.client.get(f"/v2/droplets/{made['id']}")).json()["droplet"]
    assert kept["name"] == "kept" and kept["tags"] == ["a:b"]
    assert isinstance(kept["id"], int)


def test_the_provider_flag_picks_the_face_and_bad_flags_exit_2(
    capsys: pytest.CaptureFixture[str],
):
    config = parse_args(["--provider", "digitalocean", "--rate-limit", "5", "--seed", "3"])
    assert isinstance(config, DigitalOceanConfig) and config.rate_limit == 5
    with pytest.raises(SystemExit) as exited:
        parse_args(["--provider", "digitalocean", "--rate-limit", "-1"])
    assert exited.value.code == 2 and "rate_limit" in capsys.readouterr().err
