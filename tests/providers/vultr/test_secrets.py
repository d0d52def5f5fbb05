"""The API key never shows in an exception, a repr, or a log line."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest

from providers.vultr import (
    CreateInstanceRequest,
    VultrClient,
    VultrError,
)
from tests.providers.vultr.support import SECRET_KEY, Scripted

MakeClient = Callable[..., VultrClient]
REQUEST = CreateInstanceRequest(region="ewr", plan="vc2-1c-1gb", os_id=2284)


def echo_key(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """A hostile or broken server that puts the caller's credentials in its answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        echoed = f"bad token {request.headers['Authorization']}"
        if status == 200:
            return httpx.Response(200, text=f"<html>{echoed}</html>")
        return httpx.Response(
            status, json={"error": echoed, "status": status}, headers={"Retry-After": "1"}
        )

    return handler


def key_raising(exc_type: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"failed with {request.headers['Authorization']}", request=request)

    return handler


def rendered(error: BaseException) -> str:
    return "\n".join(
        [str(error), repr(error), *traceback.format_exception(error), repr(vars(error))]
    )


HANDLERS = {
    **{f"status {s}": echo_key(s) for s in (200, 400, 401, 403, 404, 422, 429, 500, 503)},
    **{
        f"transport {t.__name__}": key_raising(t)
        for t in (
            httpx.ConnectError,
            httpx.ReadTimeout,
            httpx.RemoteProtocolError,
            httpx.UnsupportedProtocol,
            httpx.DecodingError,
        )
    },
}


@pytest.mark.parametrize("name", list(HANDLERS))
async def test_no_error_shows_the_key_even_when_the_server_echoes_it(
    mock_client: MakeClient, scripted: Callable[..., Scripted], name: str
) -> None:
    client = mock_client(scripted(HANDLERS[name]))
    for call in (client.get_instance("i-1"), client.create_instance(REQUEST)):
        with pytest.raises(VultrError) as caught:
            await call
        assert SECRET_KEY not in rendered(caught.value)


def test_the_client_repr_hides_the_key() -> None:
    client = VultrClient(SECRET_KEY, "http://127.0.0.1:1/v2")
    assert SECRET_KEY not in repr(client)
    assert SECRET_KEY not in str(client)
    assert "***" in repr(client)
    assert SECRET_KEY not in repr(vars(client))


async def test_no_log_line_at_debug_shows_the_key(
    mock_client: MakeClient, scripted: Callable[..., Scripted], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    ok = scripted(lambda request: httpx.Response(200, json={"instance": {"id": "i-1"}}))
    await mock_client(ok).get_instance("i-1")
    for handler in HANDLERS.values():
        client = mock_client(scripted(handler))
        with pytest.raises(VultrError):
            await client.get_instance("i-1")
    assert caplog.records, "expected the requests to be logged"
    for record in caplog.records:
        assert SECRET_KEY not in record.getMessage()
        assert SECRET_KEY not in repr(record.args)
