"""GET /v2/instances: cursor pagination and filters; the catalog lists page the same way."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.vultr.catalog import OPERATING_SYSTEMS, PLANS, REGIONS
from tests.emulator.support import InProcess


async def _pages(emu: InProcess, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list, following links.next until it is empty."""
    pages = []
    cursor = ""
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await emu.client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        cursor = body["meta"]["links"]["next"]
        if not cursor:
            return pages


async def _create_many(emu: InProcess, count: int, **fields: Any) -> list[str]:
    return [(await emu.create(label=f"s-{i}", **fields))["id"] for i in range(count)]


async def test_250_instances_come_in_three_pages_of_100_without_duplicates(
    emu: InProcess,
) -> None:
    ids = await _create_many(emu, 250)
    pages = await _pages(emu, "/v2/instances", "instances", per_page=100)
    assert [len(p["instances"]) for p in pages] == [100, 100, 50]
    assert [i["id"] for p in pages for i in p["instances"]] == ids
    assert all(p["meta"]["total"] == 250 for p in pages)


async def test_the_first_page_has_no_prev_and_the_last_no_next(emu: InProcess) -> None:
    await _create_many(emu, 5)
    pages = await _pages(emu, "/v2/instances", "instances", per_page=2)
    assert pages[0]["meta"]["links"]["prev"] == ""
    assert pages[-1]["meta"]["links"]["next"] == ""
    assert all(p["meta"]["links"]["prev"] for p in pages[1:])


async def test_prev_returns_the_page_before(emu: InProcess) -> None:
    await _create_many(emu, 5)
    first = (await emu.client.get("/v2/instances", params={"per_page": 2})).json()
    second = (
        await emu.client.get(
            "/v2/instances", params={"per_page": 2, "cursor": first["meta"]["links"]["next"]}
        )
    ).json()
    back = (
        await emu.client.get(
            "/v2/instances", params={"per_page": 2, "cursor": second["meta"]["links"]["prev"]}
        )
    ).json()
    assert back["instances"] == first["instances"]


async def test_per_page_defaults_to_100(emu: InProcess) -> None:
    await _create_many(emu, 101)
    body = (await emu.client.get("/v2/instances")).json()
    assert len(body["instances"]) == 100 and body["meta"]["links"]["next"]


async def test_per_page_above_500_is_served_as_500(emu: InProcess) -> None:
    await _create_many(emu, 501)
    body = (await emu.client.get("/v2/instances", params={"per_page": 1000})).json()
    assert len(body["instances"]) == 500


@pytest.mark.parametrize("per_page", ["0", "-3", "many"])
async def test_a_bad_per_page_is_a_400(emu: InProcess, per_page: str) -> None:
    response = await emu.client.get("/v2/instances", params={"per_page": per_page})
    assert response.status_code == 400 and "per_page" in response.json()["error"]


async def test_a_bad_cursor_is_a_400(emu: InProcess) -> None:
    response = await emu.client.get("/v2/instances", params={"cursor": "garbage!!"})
    assert response.status_code == 400 and "cursor" in response.json()["error"]


async def test_deletes_between_pages_cause_no_duplicates_or_skips(emu: InProcess) -> None:
    ids = await _create_many(emu, 6)
    first = (await emu.client.get("/v2/instances", params={"per_page": 3})).json()
    await emu.client.delete(f"/v2/instances/{ids[0]}")
    rest = (
        await emu.client.get(
            "/v2/instances", params={"per_page": 3, "cursor": first["meta"]["links"]["next"]}
        )
    ).json()
    assert [i["id"] for i in rest["instances"]] == ids[3:]


async def test_filter_by_label_is_exact(emu: InProcess) -> None:
    await emu.create(label="web")
    await emu.create(label="web-2")
    body = (await emu.client.get("/v2/instances", params={"label": "web"})).json()
    assert [i["label"] for i in body["instances"]] == ["web"]
    assert body["meta"]["total"] == 1


async def test_filter_by_tag_matches_any_of_an_instances_tags(emu: InProcess) -> None:
    a = await emu.create(tags=["blue", "ci"])
    await emu.create(tags=["red"])
    b = await emu.create(tags=["ci"])
    body = (await emu.client.get("/v2/instances", params={"tag": "ci"})).json()
    assert [i["id"] for i in body["instances"]] == [a["id"], b["id"]]


async def test_filter_by_region_main_ip_and_hostname(emu: InProcess) -> None:
    fra = await emu.create(region="fra", hostname="h-fra")
    await emu.create(region="ewr", hostname="h-ewr")
    emu.clock.advance(60)
    main_ip = (await emu.instance(fra["id"]))["main_ip"]
    for params in ({"region": "fra"}, {"main_ip": main_ip}, {"hostname": "h-fra"}):
        body = (await emu.client.get("/v2/instances", params=params)).json()
        assert [i["id"] for i in body["instances"]] == [fra["id"]], params


async def test_filters_combine(emu: InProcess) -> None:
    target = await emu.create(region="fra", tags=["ci"])
    await emu.create(region="ewr", tags=["ci"])
    await emu.create(region="fra", tags=["other"])
    body = (await emu.client.get("/v2/instances", params={"region": "fra", "tag": "ci"})).json()
    assert [i["id"] for i in body["instances"]] == [target["id"]]


async def test_filtered_lists_page_too(emu: InProcess) -> None:
    await _create_many(emu, 5, tags=["x"])
    await _create_many(emu, 5, tags=["y"])
    pages = await _pages(emu, "/v2/instances", "instances", tag="x", per_page=2)
    assert [len(p["instances"]) for p in pages] == [2, 2, 1]
    assert all(i["tags"] == ["x"] for p in pages for i in p["instances"])


async def test_deleted_instances_leave_the_filter_results(emu: InProcess) -> None:
    created = await emu.create(label="gone")
    await emu.client.delete(f"/v2/instances/{created['id']}")
    body = (await emu.client.get("/v2/instances", params={"label": "gone"})).json()
    assert body == {"instances": [], "meta": {"total": 0, "links": {"next": "", "prev": ""}}}


@pytest.mark.parametrize(
    "path, key, count",
    [("/v2/regions", "regions", len(REGIONS)), ("/v2/plans", "plans", len(PLANS)),
     ("/v2/os", "os", len(OPERATING_SYSTEMS))],
)  # fmt: skip
async def test_catalog_lists_page_through_every_entry_once(
    emu: InProcess, path: str, key: str, count: int
) -> None:
    pages = await _pages(emu, path, key, per_page=5)
    ids = [item["id"] for p in pages for item in p[key]]
    assert len(ids) == count == len(set(ids))
    assert all(p["meta"]["total"] == count for p in pages)


async def test_plans_filter_by_type(emu: InProcess) -> None:
    body = (await emu.client.get("/v2/plans", params={"type": "vcg"})).json()
    assert body["plans"] and all(p["type"] == "vcg" for p in body["plans"])


async def test_with_list_filters_ignored_every_instance_is_listed_and_paged(
    emu: InProcess,
) -> None:
    ours = await emu.create(label="ours", tags=["ci"])
    others = [(await emu.create(label=f"other-{i}"))["id"] for i in range(2)]
    response = await emu.client.post("/admin/faults", json={"ignore_list_filters": True})
    assert response.status_code == 200 and response.json()["ignore_list_filters"] is True
    pages = await _pages(emu, "/v2/instances", "instances", tag="ci", label="ours", per_page=2)
    assert [i["id"] for p in pages for i in p["instances"]] == [ours["id"], *others]
    assert [len(p["instances"]) for p in pages] == [2, 1]
    await emu.client.delete("/admin/faults")
    body = (await emu.client.get("/v2/instances", params={"tag": "ci"})).json()
    assert [i["id"] for i in body["instances"]] == [ours["id"]], "clearing faults honours filters"
