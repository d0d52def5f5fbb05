"""The client over a scripted transport: request shapes, malformed answers, edge cases.

Behaviour against a real HTTP server lives in test_client_emulator.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from core.settings import Settings
from providers.vultr import (
    Catalog,
    CreateInstanceRequest,
    OperatingSystem,
    Plan,
    Region,
    VultrAuthError,
    VultrBadRequest,
    VultrClient,
    VultrError,
    VultrNotFound,
    VultrProtocolError,
    VultrRateLimited,
    VultrServerError,
    VultrTransportError,
    VultrValidationError,
)
from tests.providers.vultr.support import BASE_URL, SECRET_KEY, Scripted

MakeClient = Callable[..., VultrClient]
MakeScripted = Callable[..., Scripted]

INSTANCE = {"id": "abc-123", "label": "server-a", "date_created": "2025-01-01T00:00:00+00:00"}
REQUEST = CreateInstanceRequest(region="ewr", plan="vc2-1c-1gb", os_id=2284, label="server-a")


def reply(
    status: int, body: Any = None, **kwargs: Any
) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body, **kwargs)


def raising(exc_type: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return handler


def query(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}


# ---- what is sent ------------------------------------------------------------------------


async def test_requests_carry_bearer_auth_and_go_under_the_base_url(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(reply(200, {"instance": INSTANCE}))
    await mock_client(seen).get_instance("abc-123")
    sent = seen.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert str(sent.url) == f"{BASE_URL}/instances/abc-123"


async def test_create_posts_the_api_body_and_returns_the_instance(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(reply(202, {"instance": INSTANCE}))
    request = CreateInstanceRequest(
        region="ewr", plan="vc2-1c-1gb", os_id=2284, tags=["a"], sshkey_id=["k"], user_data="hi"
    )
    instance = await mock_client(seen).create_instance(request)
    sent = seen.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v2/instances")
    body = json.loads(sent.content)
    assert body == request.api_body()
    assert base64.b64decode(body["user_data"]) == b"hi"
    assert instance.id == "abc-123"


async def test_instance_ids_are_escaped_into_one_path_segment(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(reply(204))
    await mock_client(seen).halt_instance("../account")
    assert seen.requests[0].url.raw_path == b"/v2/instances/..%2Faccount/halt"


@pytest.mark.parametrize("bad_id", ["", "   "])
async def test_an_empty_instance_id_is_refused_without_a_request(
    mock_client: MakeClient, scripted: MakeScripted, bad_id: str
) -> None:
    seen = scripted(reply(204))
    with pytest.raises(VultrValidationError, match="instance id"):
        await mock_client(seen).delete_instance(bad_id)
    assert seen.requests == []


@pytest.mark.parametrize(
    ("method_name", "action"),
    [("halt_instance", "halt"), ("start_instance", "start"), ("reboot_instance", "reboot")],
)
async def test_power_actions_post_to_their_routes(
    mock_client: MakeClient, scripted: MakeScripted, method_name: str, action: str
) -> None:
    seen = scripted(reply(204))
    assert await getattr(mock_client(seen), method_name)("i-1") is None
    assert (seen.requests[0].method, seen.requests[0].url.path) == (
        "POST",
        f"/v2/instances/i-1/{action}",
    )


async def test_list_instances_sends_filters_and_the_largest_page_size(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(reply(200, {"instances": [], "meta": {"total": 0, "links": {"next": ""}}}))
    await mock_client(seen).list_instances(label="server-a", tag="t", region="ams")
    assert query(seen.requests[0]) == {
        "label": "server-a",
        "tag": "t",
        "region": "ams",
        "per_page": "500",
    }


async def test_list_follows_next_cursors_until_the_last_page(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    pages = {
        None: (["a", "b"], "c2"),
        "c2": (["c", "d"], "c3"),
        "c3": (["e"], ""),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        ids, nxt = pages[query(request).get("cursor")]
        meta = {"total": 5, "links": {"next": nxt, "prev": ""}}
        return httpx.Response(200, json={"instances": [{"id": i} for i in ids], "meta": meta})

    seen = scripted(handler)
    instances = await mock_client(seen).list_instances(per_page=2)
    assert [i.id for i in instances] == ["a", "b", "c", "d", "e"]
    assert [query(r).get("cursor") for r in seen.requests] == [None, "c2", "c3"]


async def test_a_list_without_meta_is_one_page(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(reply(200, {"pending_charges": [{"description": "x", "total": 1.5}]}))
    charges = await mock_client(seen).pending_charges()
    assert [c.total for c in charges] == [1.5]
    assert len(seen.requests) == 1
    assert "per_page" not in query(seen.requests[0])


@pytest.mark.parametrize("per_page", [0, 501])
async def test_a_page_size_outside_the_api_range_is_refused(
    mock_client: MakeClient, scripted: MakeScripted, per_page: int
) -> None:
    with pytest.raises(ValueError, match="per_page"):
        await mock_client(scripted(reply(200, {}))).list_instances(per_page=per_page)


async def test_load_catalog_makes_later_creates_check_region_plan_and_os(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    answers = {
        "/v2/regions": {"regions": [{"id": "ewr"}]},
        "/v2/plans": {"plans": [{"id": "vc2-1c-1gb", "locations": ["ewr"]}]},
        "/v2/os": {"os": [{"id": 2284}]},
    }
    seen = scripted(lambda request: httpx.Response(200, json=answers[request.url.path]))
    client = mock_client(seen)
    catalog = await client.load_catalog()
    assert (set(catalog.regions), set(catalog.plans), set(catalog.os)) == (
        {"ewr"},
        {"vc2-1c-1gb"},
        {2284},
    )
    with pytest.raises(VultrValidationError, match="unknown region 'ams'"):
        await client.create_instance(REQUEST.model_copy(update={"region": "ams"}))
    assert all(r.method == "GET" for r in seen.requests)


async def test_a_create_with_invalid_fields_is_refused_before_sending(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(reply(202, {"instance": INSTANCE}))
    client = mock_client(seen)
    client.catalog = Catalog.build(
        [Region(id="ewr")], [Plan(id="p", locations=["ewr"])], [OperatingSystem(id=1)]
    )
    with pytest.raises(VultrValidationError, match="tags"):
        await client.create_instance({"region": "ewr", "plan": "p", "os_id": 1, "tags": [1]})
    assert seen.requests == []


# ---- responses mapped to results ---------------------------------------------------------


async def test_delete_reports_whether_the_instance_existed(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    assert await mock_client(scripted(reply(204))).delete_instance("i-1") is True
    gone = reply(404, {"error": "instance not found", "status": 404})
    assert await mock_client(scripted(gone)).delete_instance("i-1") is False


async def test_get_account_reads_the_account_object(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(reply(200, {"account": {"name": "n", "balance": -3.5}}))
    account = await mock_client(seen).get_account()
    assert (account.name, account.balance) == ("n", -3.5)


# ---- errors by status --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (400, VultrBadRequest, False),
        (422, VultrBadRequest, False),
        (409, VultrBadRequest, False),
        (401, VultrAuthError, False),
        (403, VultrAuthError, False),
        (404, VultrNotFound, False),
        (429, VultrRateLimited, True),
        (500, VultrServerError, True),
        (502, VultrServerError, True),
        (503, VultrServerError, True),
    ],
)
async def test_each_status_maps_to_its_error(
    mock_client: MakeClient,
    scripted: MakeScripted,
    status: int,
    error_type: type[VultrError],
    retryable: bool,
) -> None:
    seen = scripted(reply(status, {"error": "what Vultr said", "status": status}))
    with pytest.raises(error_type) as caught:
        await mock_client(seen).get_instance("i-1")
    error = caught.value
    assert (error.status, error.error_text, error.retryable) == (
        status,
        "what Vultr said",
        retryable,
    )
    assert (error.method, error.path) == ("GET", "/instances/i-1")
    assert "what Vultr said" in str(error)


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_tell_the_operator_to_check_the_key(
    mock_client: MakeClient, scripted: MakeScripted, status: int
) -> None:
    with pytest.raises(VultrAuthError, match=f"^{status} from Vultr: check VULTR_API_KEY"):
        await mock_client(scripted(reply(status, {"error": "Invalid API token."}))).get_account()


async def test_rate_limit_carries_retry_after_seconds(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    limited = reply(
        429, {"error": "Rate limit exceeded", "status": 429}, headers={"Retry-After": "2"}
    )
    with pytest.raises(VultrRateLimited, match="retry after 2 s") as caught:
        await mock_client(scripted(limited)).list_regions()
    assert caught.value.retry_after == 2.0


async def test_rate_limit_with_an_http_date_retry_after_is_read_as_a_delay(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    limited = reply(
        429, {"error": "slow"}, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    with pytest.raises(VultrRateLimited) as caught:
        await mock_client(scripted(limited)).list_regions()
    assert caught.value.retry_after == 0.0  # a date in the past: retry now


async def test_rate_limit_without_retry_after_leaves_the_delay_to_the_caller(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    with pytest.raises(VultrRateLimited) as caught:
        await mock_client(scripted(reply(429, {"error": "slow"}))).list_regions()
    assert caught.value.retry_after is None


async def test_a_locked_delete_is_a_retryable_server_error_marked_locked(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    text = "Unable to destroy server: Unable to remove VM: Server is currently locked"
    with pytest.raises(VultrServerError, match="retry shortly") as caught:
        await mock_client(scripted(reply(500, {"error": text, "status": 500}))).delete_instance(
            "i-1"
        )
    assert (caught.value.is_locked, caught.value.retryable, caught.value.ambiguous) == (
        True,
        True,
        False,
    )


async def test_a_server_error_on_create_is_ambiguous(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    with pytest.raises(VultrServerError, match="look the instance up by label") as caught:
        await mock_client(scripted(reply(503, {"error": "busy"}))).create_instance(REQUEST)
    assert caught.value.ambiguous is True


async def test_a_server_error_on_a_read_is_not_ambiguous(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    with pytest.raises(VultrServerError) as caught:
        await mock_client(scripted(reply(503, {"error": "busy"}))).get_instance("i-1")
    assert caught.value.ambiguous is False


@pytest.mark.parametrize("status", [400, 429])
async def test_a_refused_create_is_not_ambiguous(
    mock_client: MakeClient, scripted: MakeScripted, status: int
) -> None:
    with pytest.raises(VultrError) as caught:
        await mock_client(scripted(reply(status, {"error": "no"}))).create_instance(REQUEST)
    assert caught.value.ambiguous is False


async def test_an_html_error_page_is_quoted_briefly(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 1000 + "</body></html>"
    seen = scripted(lambda request: httpx.Response(502, text=page))
    with pytest.raises(VultrServerError) as caught:
        await mock_client(seen).get_instance("i-1")
    assert caught.value.error_text.startswith("<html><body><h1>502 Bad Gateway</h1>")
    assert len(caught.value.error_text) < 300


async def test_a_redirect_is_a_protocol_error_naming_the_api_url(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    moved = reply(301, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(VultrProtocolError, match="VULTR_API_URL"):
        await mock_client(scripted(moved)).get_instance("i-1")


# ---- malformed answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        (httpx.Response(200, text="<html>login</html>"), "not JSON"),
        (httpx.Response(200, json=[1, 2]), "JSON list instead of an object"),
        (httpx.Response(200, json={"server": {}}), "no 'instance' object"),
        (httpx.Response(200, json={"instance": {"label": "no id"}}), "instance.id"),
        (httpx.Response(200, json={"instance": {"id": "x", "ram": "lots"}}), "instance.ram"),
    ],
)
async def test_a_malformed_answer_is_a_non_retryable_protocol_error(
    mock_client: MakeClient, scripted: MakeScripted, response: httpx.Response, detail: str
) -> None:
    with pytest.raises(VultrProtocolError, match=detail) as caught:
        await mock_client(scripted(lambda request: response)).get_instance("i-1")
    assert (caught.value.retryable, caught.value.ambiguous) == (False, False)


async def test_a_malformed_list_page_is_a_protocol_error(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    with pytest.raises(VultrProtocolError, match="no 'instances' list"):
        await mock_client(scripted(reply(200, {"instances": {"id": "x"}}))).list_instances()


async def test_a_bad_item_in_a_list_is_named_by_index(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    body = {"instances": [{"id": "ok"}, {"label": "no id"}], "meta": {"links": {"next": ""}}}
    with pytest.raises(VultrProtocolError, match=r"instances\[1\]\.id"):
        await mock_client(scripted(reply(200, body))).list_instances()


async def test_a_cursor_that_repeats_is_a_protocol_error_not_an_endless_loop(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    looping = reply(200, {"instances": [{"id": "x"}], "meta": {"links": {"next": "same"}}})
    seen = scripted(looping)
    with pytest.raises(VultrProtocolError, match="already gave"):
        await mock_client(seen).list_instances()
    assert len(seen.requests) == 2


async def test_a_malformed_create_answer_is_ambiguous(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    seen = scripted(lambda request: httpx.Response(202, text="{truncated"))
    with pytest.raises(VultrProtocolError, match="look the instance up by label") as caught:
        await mock_client(seen).create_instance(REQUEST)
    assert (caught.value.retryable, caught.value.ambiguous) == (False, True)


# ---- transport failures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc_type", "ambiguous"),
    [
        (httpx.ConnectError, False),
        (httpx.ConnectTimeout, False),
        (httpx.PoolTimeout, False),
        (httpx.ReadTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.ReadError, True),
        (httpx.RemoteProtocolError, True),
    ],
)
async def test_a_create_is_ambiguous_only_if_the_request_may_have_left(
    mock_client: MakeClient,
    scripted: MakeScripted,
    exc_type: type[httpx.RequestError],
    ambiguous: bool,
) -> None:
    with pytest.raises(VultrTransportError) as caught:
        await mock_client(scripted(raising(exc_type))).create_instance(REQUEST)
    assert (caught.value.retryable, caught.value.ambiguous) == (True, ambiguous)
    assert caught.value.status is None


@pytest.mark.parametrize(
    "exc_type", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
async def test_a_read_that_fails_in_transport_is_retryable_and_not_ambiguous(
    mock_client: MakeClient, scripted: MakeScripted, exc_type: type[httpx.RequestError]
) -> None:
    with pytest.raises(VultrTransportError) as caught:
        await mock_client(scripted(raising(exc_type))).get_instance("i-1")
    assert (caught.value.retryable, caught.value.ambiguous) == (True, False)


async def test_an_unusable_api_url_is_a_non_retryable_transport_error(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    with pytest.raises(VultrTransportError, match="check VULTR_API_URL") as caught:
        await mock_client(scripted(raising(httpx.UnsupportedProtocol))).get_instance("i-1")
    assert caught.value.non_retryable is True


async def test_transport_errors_do_not_chain_the_httpx_exception(
    mock_client: MakeClient, scripted: MakeScripted
) -> None:
    # The httpx exception holds the request, and with it the Authorization header.
    with pytest.raises(VultrTransportError) as caught:
        await mock_client(scripted(raising(httpx.ReadTimeout))).get_instance("i-1")
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


# ---- construction, lifecycle, logging ----------------------------------------------------


def test_an_empty_api_key_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValueError, match="VULTR_API_KEY"):
        VultrClient("  ")


async def test_from_settings_uses_the_configured_url_and_key(scripted: MakeScripted) -> None:
    settings = Settings(vultr_api_key=SECRET_KEY, vultr_api_url="http://vultr.test:8765/v2/")
    seen = scripted(reply(200, {"account": {"name": "n"}}))
    async with VultrClient.from_settings(settings, transport=httpx.MockTransport(seen)) as client:
        await client.get_account()
    assert str(seen.requests[0].url) == "http://vultr.test:8765/v2/account"
    assert seen.requests[0].headers["Authorization"] == f"Bearer {SECRET_KEY}"


async def test_the_context_manager_closes_the_connection_pool() -> None:
    async with VultrClient(SECRET_KEY, BASE_URL) as client:
        assert client.closed is False
    assert client.closed is True


async def test_each_request_is_logged_at_debug_with_method_path_status_and_duration(
    mock_client: MakeClient, scripted: MakeScripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="providers.vultr")
    await mock_client(scripted(reply(204))).halt_instance("i-1")
    records = [r for r in caplog.records if r.name == "providers.vultr"]
    assert len(records) == 1
    assert records[0].levelno == logging.DEBUG
    assert records[0].getMessage().startswith("POST /instances/i-1/halt -> 204 in ")
    assert records[0].getMessage().endswith(" ms")


async def test_a_transport_failure_is_logged_with_its_kind(
    mock_client: MakeClient, scripted: MakeScripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="providers.vultr")
    with pytest.raises(VultrTransportError):
        await mock_client(scripted(raising(httpx.ConnectError))).get_instance("i-1")
    messages = [r.getMessage() for r in caplog.records if r.name == "providers.vultr"]
    assert messages and messages[0].startswith("GET /instances/i-1 -> ConnectError after ")


async def test_an_answer_slower_than_the_timeout_is_cut_off_as_a_retryable_timeout(
    mock_client: MakeClient,
) -> None:
    # httpx bounds each phase alone; the client bounds the whole request, so a call
    # always ends inside the activity's start-to-close timeout.
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={"instance": {}})

    started = time.monotonic()
    with pytest.raises(VultrTransportError, match=r"timed out after 0\.2 s") as caught:
        await mock_client(slow, timeout=0.2).get_instance("i-1")  # type: ignore[arg-type]
    assert time.monotonic() - started < 2
    assert (caught.value.retryable, caught.value.ambiguous) == (True, False)
