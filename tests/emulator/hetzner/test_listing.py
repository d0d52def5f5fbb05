"""GET /v1/servers: label selectors, name and status filters, page pagination, and the
ignore_list_filters fault; the catalog routes."""

from __future__ import annotations

import pytest

from tests.emulator.hetzner.support import InProcess

MANAGED = {"managed-by": "vultr-lifecycle"}


async def _names(hz: InProcess, **params: str) -> list[str]:
    response = await hz.client.get("/v1/servers", params=params)
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["servers"]]


@pytest.fixture
async def three(hz: InProcess) -> InProcess:
    await hz.create(name="a", labels={**MANAGED, "workflow": "server-a", "env": "prod"})
    await hz.create(name="b", labels={**MANAGED, "workflow": "server-b"})
    await hz.create(name="c", labels={"env": "dev"})
    return hz


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("managed-by=vultr-lifecycle", ["a", "b"]),
        ("managed-by==vultr-lifecycle,workflow=server-b", ["b"]),
        ("env!=prod", ["b", "c"]),
        ("env", ["a", "c"]),
        ("!env", ["b"]),
        ("env in (dev,prod)", ["a", "c"]),
        ("env notin (prod)", ["c"]),
        ("workflow=server-zzz", []),
    ],
)
async def test_label_selector_selects_as_documented(
    three: InProcess, selector: str, expected: list[str]
) -> None:
    assert await _names(three, label_selector=selector) == expected


async def test_malformed_label_selector_is_invalid_input(three: InProcess) -> None:
    response = await three.client.get("/v1/servers", params={"label_selector": "a=b=c"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


async def test_name_and_status_filters(three: InProcess) -> None:
    assert await _names(three, name="b") == ["b"]
    assert await _names(three, status="initializing") == ["a", "b", "c"]
    assert await _names(three, status="running") == []


async def test_ignore_list_filters_makes_the_selector_ignored(three: InProcess) -> None:
    await three.client.post("/admin/faults", json={"ignore_list_filters": True})
    assert await _names(three, label_selector="workflow=server-b") == ["a", "b", "c"]
    assert await _names(three, name="a", per_page="2") == ["a", "b"]


async def test_pages_follow_meta_pagination_to_the_end(hz: InProcess) -> None:
    for i in range(5):
        await hz.create(name=f"s{i}")
    seen: list[str] = []
    page: int | None = 1
    pages = []
    while page is not None:
        response = await hz.client.get("/v1/servers", params={"page": page, "per_page": 2})
        body = response.json()
        seen += [s["name"] for s in body["servers"]]
        pages.append(body["meta"]["pagination"])
        page = body["meta"]["pagination"]["next_page"]
    assert seen == ["s0", "s1", "s2", "s3", "s4"]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert pages[0]["previous_page"] is None and pages[0]["last_page"] == 3
    assert pages[0]["total_entries"] == 5


async def test_per_page_above_50_is_served_as_50_and_bad_page_is_refused(hz: InProcess) -> None:
    capped = await hz.client.get("/v1/servers", params={"per_page": 500})
    bad = await hz.client.get("/v1/servers", params={"page": "0"})
    assert capped.json()["meta"]["pagination"]["per_page"] == 50
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"


async def test_server_types_carry_hourly_and_monthly_prices_per_location(hz: InProcess) -> None:
    response = await hz.client.get("/v1/server_types", params={"name": "cpx11"})
    (cpx11,) = response.json()["server_types"]
    prices = {p["location"]: p for p in cpx11["prices"]}
    assert {loc["name"] for loc in cpx11["locations"]} == set(prices)
    assert prices["fsn1"]["price_hourly"]["net"] != prices["ash"]["price_hourly"]["net"]
    assert float(prices["fsn1"]["price_monthly"]["net"]) > float(
        prices["fsn1"]["price_hourly"]["net"]
    )


async def test_locations_and_images_are_listed(hz: InProcess) -> None:
    locations = (await hz.client.get("/v1/locations")).json()["locations"]
    arm = (await hz.client.get("/v1/images", params={"architecture": "arm"})).json()["images"]
    assert "fsn1" in {loc["name"] for loc in locations}
    assert arm and all(i["architecture"] == "arm" for i in arm)
