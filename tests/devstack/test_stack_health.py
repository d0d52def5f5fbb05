"""A running stack: each component healthy, announced, logged, and alone on its data folder.

One stack (no worker) is shared by the module; each test checks one property of it.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from pymongo import MongoClient

from devstack.components import SEARCH_ATTRIBUTES
from devstack.stack import EMULATOR_API_KEY, EMULATOR_STATE_FILE, DevStack, DevStackError
from tests.devstack.helpers import (
    HAVE_EMULATOR,
    NO_EMULATOR_REASON,
    custom_search_attributes,
    descendants,
    stack_options,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(60)]

needs_emulator = pytest.mark.skipif(not HAVE_EMULATOR, reason=NO_EMULATOR_REASON)


@dataclass
class Running:
    stack: DevStack
    output: io.StringIO
    environ_before: dict[str, str]

    @property
    def text(self) -> str:
        return self.output.getvalue()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    options = stack_options(tmp_path_factory.mktemp("devstack"))
    output = io.StringIO()
    environ_before = dict(os.environ)
    stack = DevStack(options, out=output)
    stack.start()
    try:
        yield Running(stack, output, environ_before)
    finally:
        stack.stop()


def test_temporal_ui_answers_http_on_its_port(running: Running) -> None:
    ui = f"http://127.0.0.1:{running.stack.options.ui_port}"

    assert running.stack.urls.temporal_ui == ui
    assert httpx.get(ui, timeout=10).status_code == 200


def test_every_custom_search_attribute_is_registered(running: Running) -> None:
    listed = custom_search_attributes(f"127.0.0.1:{running.stack.options.temporal_port}")

    for name, kind in SEARCH_ATTRIBUTES.items():
        assert name in listed, f"{name} missing from {sorted(listed)}"
        assert listed[name].endswith(kind.upper()), f"{name} is {listed[name]}, expected {kind}"


def test_embedded_mongodb_answers_ping(running: Running) -> None:
    client: MongoClient = MongoClient(running.stack.urls.mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        assert client.admin.command("ping")["ok"] == 1
    finally:
        client.close()


def test_mongodb_and_temporal_keep_their_data_in_the_data_folder(running: Running) -> None:
    data_dir = running.stack.options.data_dir

    assert (data_dir / "temporal.sqlite").stat().st_size > 0
    assert any((data_dir / "mongo").iterdir())


@needs_emulator
def test_emulator_answers_health(running: Running) -> None:
    base = f"http://127.0.0.1:{running.stack.options.emulator_port}"

    response = httpx.get(f"{base}/health", timeout=10)

    assert response.status_code == 200
    assert running.stack.urls.vultr_api_url == f"{base}/v2"


@needs_emulator
def test_emulator_runs_with_the_stack_billing_period_and_boot_time(running: Running) -> None:
    base = f"http://127.0.0.1:{running.stack.options.emulator_port}"

    config = httpx.get(f"{base}/admin/config", timeout=10).json()

    assert config["billing_period_seconds"] == running.stack.options.billing_period_seconds
    assert config["boot_seconds"] == running.stack.options.emulator_boot_seconds


def test_banner_puts_each_component_and_its_url_on_a_line_of_its_own(running: Running) -> None:
    options = running.stack.options
    lines = running.text.splitlines()

    expected = [
        f"Temporal UI      http://127.0.0.1:{options.ui_port}",
        f"Temporal gRPC    127.0.0.1:{options.temporal_port}",
        f"MongoDB          mongodb://127.0.0.1:{options.mongo_port}/?directConnection=true",
        f"Logs             {options.data_dir / 'logs'}/",
    ]
    if HAVE_EMULATOR:
        expected.append(f"Vultr emulator   http://127.0.0.1:{options.emulator_port}/v2")
        expected.append(f"Hetzner emulator http://127.0.0.1:{options.hetzner_port}/v1")
        expected.append(
            f"DigitalOcean     http://127.0.0.1:{options.digitalocean_port}/v2"
            "  (emulator, real seconds)"
        )
    for line in expected:
        assert line in lines, f"{line!r} not in:\n{running.text}"


def test_banner_says_when_no_worker_was_started(running: Running) -> None:
    assert "Worker           not started" in running.text.splitlines()


def test_progress_reports_each_start_with_its_duration(running: Running) -> None:
    names = ["Temporal dev server", "embedded MongoDB"] + (
        ["Vultr emulator"] if HAVE_EMULATOR else []
    )

    for name in names:
        assert re.search(rf"^starting {name} \.\.\. ok \(\d+\.\d s\)$", running.text, re.M), (
            f"no progress line for {name} in:\n{running.text}"
        )


def test_each_component_writes_its_output_to_a_log_file_under_the_data_folder(
    running: Running,
) -> None:
    logs = running.stack.options.data_dir / "logs"
    expected = {"Temporal dev server": "temporal.log", "embedded MongoDB": "mongo.log"}
    if HAVE_EMULATOR:
        expected["Vultr emulator"] = "emulator.log"
        expected["Hetzner emulator"] = "hetzner-emulator.log"
        expected["DigitalOcean emulator"] = "digitalocean-emulator.log"

    for proc in running.stack.processes:
        assert proc.pid is not None
        for fd in (1, 2):
            target = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
            assert target == str(logs / expected[proc.name]), f"{proc.name} fd {fd} -> {target}"
    assert sorted(p.name for p in running.stack.processes) == sorted(expected)
    assert "Temporal Server" in (logs / "temporal.log").read_text()


@needs_emulator
def test_settings_env_points_at_the_emulator_with_a_placeholder_key(running: Running) -> None:
    env = running.stack.settings_env()

    assert env["VULTR_API_URL"] == f"http://127.0.0.1:{running.stack.options.emulator_port}/v2"
    assert env["VULTR_API_KEY"] == EMULATOR_API_KEY
    assert env["HCLOUD_API_URL"] == f"http://127.0.0.1:{running.stack.options.hetzner_port}/v1"
    assert env["HCLOUD_TOKEN"] == EMULATOR_API_KEY
    do_port = running.stack.options.digitalocean_port
    assert env["DIGITALOCEAN_API_URL"] == f"http://127.0.0.1:{do_port}/v2"
    assert env["DIGITALOCEAN_TOKEN"] == EMULATOR_API_KEY
    assert env["TEMPORAL_ADDRESS"] == f"127.0.0.1:{running.stack.options.temporal_port}"
    assert env["MONGO_URI"] == running.stack.urls.mongo_uri
    assert env["BILLING_PERIOD_SECONDS"] == "120"


def test_the_stack_settings_stay_out_of_the_parent_environment(running: Running) -> None:
    for name in [*running.stack.settings_env(), "METRICS_PORT"]:
        assert os.environ.get(name) == running.environ_before.get(name), name


def test_a_second_stack_on_the_same_data_folder_is_refused(running: Running) -> None:
    data_dir = running.stack.options.data_dir
    before = descendants()
    second = DevStack(stack_options(data_dir), out=io.StringIO())

    with pytest.raises(DevStackError, match="another devstack") as caught:
        second.start()

    assert str(data_dir) in str(caught.value)
    assert descendants() == before


@needs_emulator
def test_a_restarted_emulator_keeps_its_instances_and_ledger_in_the_data_folder(
    running: Running,
) -> None:
    # Last in the module: it restarts the shared stack's emulator.
    api = running.stack.urls.vultr_api_url
    base = api.removesuffix("/v2")
    headers = {"Authorization": f"Bearer {EMULATOR_API_KEY}"}
    body = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284, "label": "kept"}
    created = httpx.post(f"{api}/instances", json=body, headers=headers, timeout=10)
    assert created.status_code == 202, created.text
    instance_id = created.json()["instance"]["id"]
    emulator = next(p for p in running.stack.processes if p.name == "Vultr emulator")

    emulator.stop()
    emulator.start(timeout=20)

    found = httpx.get(f"{api}/instances/{instance_id}", headers=headers, timeout=10)
    assert found.status_code == 200, found.text
    assert found.json()["instance"]["label"] == "kept"
    ledger = httpx.get(f"{base}/admin/ledger", timeout=10).json()["ledger"]
    assert [row["instance_id"] for row in ledger] == [instance_id]
    assert ledger[0]["units"] == 1
    assert (running.stack.options.data_dir / EMULATOR_STATE_FILE).is_file()
