"""Servers that already answer at an explicit MONGO_URI or TEMPORAL_ADDRESS are used
instead of starting new ones, and the banner says so."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.components import SEARCH_ATTRIBUTES, mongo_process
from devstack.procs import ManagedProcess, free_port, port_in_use, tcp_ready, venv_bin
from devstack.stack import DevStack
from tests.devstack.helpers import custom_search_attributes, processes_mentioning, stack_options

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def existing_mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    logs = tmp_path_factory.mktemp("existing-mongo")
    proc = mongo_process(port, ":memory:", logs / "mongo.log")
    proc.start(timeout=30)
    try:
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        proc.stop()


@pytest.fixture
def bare_temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Temporal dev server without the project's search attributes."""
    port = free_port()
    logs = tmp_path_factory.mktemp("existing-temporal")
    argv = [venv_bin("temporal"), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    argv += ["--port", str(port), "--http-port", str(free_port()), "--log-level", "error"]
    argv += ["--metrics-port", str(free_port())]
    proc = ManagedProcess(
        "bare Temporal", argv, logs / "temporal.log", tcp_ready("127.0.0.1", port)
    )
    proc.start(timeout=30)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.stop()


def test_an_answering_mongo_uri_is_used_instead_of_the_embedded_server(
    tmp_path: Path, existing_mongo_uri: str
) -> None:
    options = stack_options(tmp_path, mongo_uri=existing_mongo_uri, use_emulator=False)
    out = io.StringIO()

    with DevStack(options, out=out) as stack:
        names = [p.name for p in stack.processes]
        urls = stack.urls
        env = stack.settings_env()
        embedded = processes_mentioning(tmp_path / "mongo", [options.mongo_port])
        embedded_port_open = port_in_use("127.0.0.1", options.mongo_port)

    assert "embedded MongoDB" not in names
    assert embedded == [] and not embedded_port_open
    assert urls.mongo_uri == existing_mongo_uri and urls.mongo_external
    assert env["MONGO_URI"] == existing_mongo_uri
    banner_line = f"MongoDB          {existing_mongo_uri}  (existing server, not started here)"
    assert banner_line in out.getvalue().splitlines()


def test_a_mongo_uri_that_does_not_answer_falls_back_to_the_embedded_server(
    tmp_path: Path,
) -> None:
    silent = f"mongodb://alice:s3cret@127.0.0.1:{free_port()}/"
    options = stack_options(tmp_path, mongo_uri=silent, use_emulator=False)
    out = io.StringIO()

    with DevStack(options, out=out) as stack:
        names = [p.name for p in stack.processes]
        urls = stack.urls

    assert "embedded MongoDB" in names
    assert urls.mongo_uri == f"mongodb://127.0.0.1:{options.mongo_port}/?directConnection=true"
    assert not urls.mongo_external
    assert "no answer; starting the embedded MongoDB instead" in out.getvalue()


def test_a_mongo_uri_password_is_never_printed(tmp_path: Path) -> None:
    silent = f"mongodb://alice:s3cret@127.0.0.1:{free_port()}/"
    options = stack_options(tmp_path, mongo_uri=silent, use_emulator=False)
    out = io.StringIO()

    with DevStack(options, out=out):
        pass

    assert "s3cret" not in out.getvalue()
    assert "mongodb://alice:****@127.0.0.1" in out.getvalue()


def test_an_answering_temporal_address_is_used_and_given_the_search_attributes(
    tmp_path: Path, bare_temporal_address: str
) -> None:
    assert not set(SEARCH_ATTRIBUTES) & set(custom_search_attributes(bare_temporal_address))
    options = stack_options(tmp_path, temporal_address=bare_temporal_address, use_emulator=False)
    out = io.StringIO()

    with DevStack(options, out=out) as stack:
        names = [p.name for p in stack.processes]
        urls = stack.urls
        own_ports_open = [
            p for p in (options.temporal_port, options.ui_port) if port_in_use("127.0.0.1", p)
        ]

    assert "Temporal dev server" not in names and own_ports_open == []
    assert urls.temporal_address == bare_temporal_address and urls.temporal_ui is None
    registered = custom_search_attributes(bare_temporal_address)
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert registered.get(name, "").endswith(kind.upper()), f"{name}: {registered.get(name)}"
    lines = out.getvalue().splitlines()
    assert f"Temporal gRPC    {bare_temporal_address}  (existing server, not started here)" in lines
    assert not any(line.startswith("Temporal UI") for line in lines)


def test_a_temporal_address_that_does_not_answer_falls_back_to_a_local_dev_server(
    tmp_path: Path,
) -> None:
    options = stack_options(
        tmp_path, temporal_address=f"127.0.0.1:{free_port()}", use_emulator=False
    )
    out = io.StringIO()

    with DevStack(options, out=out) as stack:
        urls = stack.urls

    assert urls.temporal_address == f"127.0.0.1:{options.temporal_port}"
    assert not urls.temporal_external
    assert "no answer; starting a local Temporal dev server instead" in out.getvalue()
