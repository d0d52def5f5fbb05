"""The deployment files: docker-compose.yml, Dockerfile, .dockerignore and .env.example.

There is no Docker engine here, so the compose file is checked against the Compose
Specification and against the code it deploys (settings names, search attributes), and the
search-attribute setup script it carries is run against a real Temporal dev server.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, get_args
from urllib.parse import parse_qs, urlparse

import jsonschema
import pytest
import yaml
from pydantic import SecretStr, TypeAdapter
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from core.settings import Settings
from devstack.components import SEARCH_ATTRIBUTES
from devstack.procs import ManagedProcess, free_port, tcp_ready, venv_bin
from providers import PROVIDER_IDS
from tests.support.shared_specs import shared_spec
from workflows.policies import provider_task_queue

REPO = Path(__file__).resolve().parents[1]

COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"

SETTING_NAMES = {name.upper() for name in Settings.model_fields}
SECRET_SETTINGS = {
    name.upper()
    for name, field in Settings.model_fields.items()
    if field.annotation is SecretStr or SecretStr in get_args(field.annotation)
}

# Compose interpolation: `$$`, `${NAME}`, `${NAME:-default}`, `${NAME?err}`, `$NAME`, ...
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_ASSIGNMENT = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")

_INDEXED_TYPES = {
    IndexedValueType.INDEXED_VALUE_TYPE_TEXT: "Text",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_INT: "Int",
    IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE: "Double",
    IndexedValueType.INDEXED_VALUE_TYPE_BOOL: "Bool",
    IndexedValueType.INDEXED_VALUE_TYPE_DATETIME: "Datetime",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
}


# ---------------------------------------------------------------------------- helpers


class MissingVariable(LookupError):
    """A `${NAME:?message}` variable is unset, as `docker compose` would report it."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """The value Compose would use for `text` given the variables in `env`."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in ("-", ":-") and missing:
            return arg
        if op in ("?", ":?") and missing:
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return _INTERPOLATION.sub(substitute, text)


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def service(name: str) -> dict[str, Any]:
    assert name in services(), f"docker-compose.yml has no service {name!r}"
    return services()[name]


def environment(svc: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping; list entries without `=` pass through as None."""
    env = svc.get("environment") or {}
    if isinstance(env, dict):
        return {k: None if v is None else str(v) for k, v in env.items()}
    entries = (entry.partition("=") for entry in env)
    return {k: (v if sep else None) for k, sep, v in entries}


def command_of(svc: Mapping[str, Any]) -> list[str]:
    for key in ("entrypoint", "command"):
        value = svc.get(key)
        if value:
            return shlex.split(value) if isinstance(value, str) else list(value)
    return []


def depends_on(svc: Mapping[str, Any]) -> dict[str, str]:
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def published_ports(svc: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each port mapping as {host_ip, published, target}, from either syntax."""
    result = []
    for port in svc.get("ports") or []:
        if isinstance(port, dict):
            result.append({k: str(port.get(k, "")) for k in ("host_ip", "published", "target")})
            continue
        parts = str(port).split("/")[0].rsplit(":", 2)
        parts = [""] * (3 - len(parts)) + parts
        result.append(dict(zip(("host_ip", "published", "target"), parts, strict=True)))
    return result


def script_of(svc: Mapping[str, Any]) -> str:
    """The shell script a service runs: a mounted config's content, else its command."""
    argv = command_of(svc)
    for mount in svc.get("configs") or []:
        if isinstance(mount, dict) and mount.get("target") in argv:
            return compose()["configs"][mount["source"]]["content"]
    return " ".join(argv)


def service_running(fragment: str) -> str:
    """The one service whose script contains `fragment`."""
    names = [name for name, svc in services().items() if fragment in script_of(svc)]
    assert len(names) == 1, f"expected one service running {fragment!r}, found {names}"
    return names[0]


def worker_env() -> dict[str, str | None]:
    return environment(service("worker"))


def host_of(address: str) -> str:
    return address.rpartition(":")[0]


def mongo_service_name() -> str:
    uri = interpolate(worker_env()["MONGO_URI"] or "", {})
    return urlparse(uri).hostname or ""


def temporal_service_name() -> str:
    return host_of(worker_env()["TEMPORAL_ADDRESS"] or "")


def single_reference(value: str | None) -> re.Match[str] | None:
    """The match if `value` is exactly one `${...}` expression."""
    if value is None:
        return None
    match = _INTERPOLATION.fullmatch(value)
    return match if match and match.group("name") else None


def image_tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return name.partition(":")[2]


def env_example() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def env_example_values() -> dict[str, str]:
    return {m["name"]: m["value"] for line in env_example() if (m := _ASSIGNMENT.match(line))}


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    return [
        (keyword.upper(), rest.strip())
        for line in lines
        if line and not line.startswith("#")
        for keyword, _, rest in [line.partition(" ")]
    ]


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)


# ------------------------------------------------------------------ compose: the spec


def test_compose_file_conforms_to_the_compose_specification() -> None:
    schema = json.loads(shared_spec("compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


# ----------------------------------------------------------- compose: worker settings


def test_worker_sets_only_variables_that_are_settings_fields() -> None:
    # A variable that looks like a setting (same prefix as one) but is none is a typo
    # that the worker would silently ignore.
    prefixes = {name.split("_")[0] + "_" for name in SETTING_NAMES}
    looks_like_setting = {name for name in worker_env() if name.startswith(tuple(prefixes))}
    assert looks_like_setting - SETTING_NAMES == set()


def test_worker_forwards_every_setting() -> None:
    assert SETTING_NAMES - set(worker_env()) == set()


def test_worker_reads_each_setting_from_the_variable_of_the_same_name() -> None:
    for name, value in worker_env().items():
        match = single_reference(value)
        if match:
            assert match["name"] == name, f"{name} is read from ${{{match['name']}}}"


def test_worker_defaults_are_the_settings_defaults() -> None:
    checked = 0
    for name, value in worker_env().items():
        match = single_reference(value)
        if not match or match["op"] != ":-" or name not in SETTING_NAMES - SECRET_SETTINGS:
            continue
        field = Settings.model_fields[name.lower()]
        assert field.annotation is not None, name
        parsed = TypeAdapter(field.annotation).validate_python(match["arg"])
        assert parsed == field.default, f"{name} defaults to {match['arg']!r}"
        checked += 1
    assert checked >= 10, "the worker should take most settings from .env with a default"


def test_vultr_api_key_is_passed_through_from_the_host_and_never_literal() -> None:
    value = worker_env()["VULTR_API_KEY"]
    match = single_reference(value)
    assert value is None or (match and match["name"] == "VULTR_API_KEY"), value
    assert not match or match["op"] in (None, "?", ":?"), "the key must have no default"


def test_secret_settings_are_never_literal_in_any_service() -> None:
    for name, svc in services().items():
        for key, value in environment(svc).items():
            if key not in SECRET_SETTINGS or value is None:
                continue
            match = single_reference(value)
            assert match and match["name"] == key, f"{name}: {key} is a literal"
            assert match["op"] not in ("-", ":-") or match["arg"] == "", (
                f"{name}: {key} has a literal default"
            )


def test_worker_reaches_temporal_and_mongo_by_their_service_names() -> None:
    assert temporal_service_name() in services()
    assert worker_env()["TEMPORAL_ADDRESS"] == f"{temporal_service_name()}:7233"
    assert mongo_service_name() in services()


def test_worker_connects_to_mongo_as_the_root_user_of_the_replica_set() -> None:
    fake = {"MONGO_INITDB_ROOT_USERNAME": "root-user", "MONGO_INITDB_ROOT_PASSWORD": "pw123"}
    uri = urlparse(interpolate(worker_env()["MONGO_URI"] or "", fake))
    query = parse_qs(uri.query)
    mongo_args = command_of(service(mongo_service_name()))

    assert (uri.username, uri.password) == ("root-user", "pw123")
    assert query["authSource"] == ["admin"]
    assert query["replicaSet"] == [mongo_args[mongo_args.index("--replSet") + 1]]


# ------------------------------------------------------------------- compose: MongoDB


def test_mongo_requires_root_credentials_from_the_environment() -> None:
    env = environment(service(mongo_service_name()))
    for name in ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"):
        match = single_reference(env.get(name))
        assert match and match["name"] == name, f"{name} must come from the environment"
        assert match["op"] == ":?", f"{name} must be required (${{{name}:?...}})"


def test_mongo_enforces_authentication_with_a_keyfile_made_before_it_starts() -> None:
    mongo = service(mongo_service_name())
    args = command_of(mongo)
    assert "--keyFile" in args, "without --keyFile a replica set runs without authentication"
    keyfile = Path(args[args.index("--keyFile") + 1])
    mounts = {m.split(":")[1]: m.split(":")[0] for m in mongo.get("volumes", [])}
    volume = mounts[str(keyfile.parent)]

    makers = [
        name
        for name, svc in services().items()
        if name != mongo_service_name()
        and any(str(m).startswith(f"{volume}:") for m in svc.get("volumes", []))
    ]
    assert makers, f"no service writes the keyfile volume {volume!r}"
    assert {depends_on(mongo).get(m) for m in makers} == {"service_completed_successfully"}


def test_mongo_runs_as_a_replica_set_that_initiates_itself() -> None:
    mongo = service(mongo_service_name())
    args = command_of(mongo)
    assert "--replSet" in args
    replica_set = args[args.index("--replSet") + 1]
    probe = " ".join(walk_strings(mongo.get("healthcheck", {}).get("test", [])))
    assert "rs.initiate(" in probe
    assert f"_id: '{replica_set}'" in probe
    assert f"host: '{mongo_service_name()}:27017'" in probe


def test_mongo_publishes_no_port() -> None:
    mongo = service(mongo_service_name())
    assert published_ports(mongo) == []
    assert mongo.get("network_mode") != "host"


# ------------------------------------------------------------------ compose: Temporal


def test_temporal_stores_its_state_in_postgresql_16() -> None:
    env = environment(service(temporal_service_name()))
    assert env["DB"] == "postgres12"
    database = service(env["POSTGRES_SEEDS"] or "")
    assert database["image"].startswith("postgres:16")


def test_temporal_starts_after_a_job_that_upgrades_both_schemas() -> None:
    job = service_running("update-schema")
    assert depends_on(service(temporal_service_name())).get(job) == (
        "service_completed_successfully"
    )
    script = script_of(service(job))
    assert "temporal_visibility" in script, "the visibility database needs its schema too"


def test_admin_tools_match_the_temporal_server_version() -> None:
    server_tag = image_tag(service(temporal_service_name())["image"])
    for name, svc in services().items():
        if svc.get("image", "").startswith("temporalio/admin-tools:"):
            assert image_tag(svc["image"]) == server_tag, name


def test_only_the_temporal_ui_and_frontend_publish_ports() -> None:
    # Outside the monitoring profile (whose ports are checked below).
    publishing = {
        name
        for name, svc in services().items()
        if published_ports(svc) and "monitoring" not in (svc.get("profiles") or [])
    }
    ui = [n for n, s in services().items() if s.get("image", "").startswith("temporalio/ui:")]
    assert publishing == {*ui, temporal_service_name()}
    assert [p["target"] for p in published_ports(service(ui[0]))] == ["8080"]


def test_temporal_grpc_is_published_on_localhost_only() -> None:
    ports = published_ports(service(temporal_service_name()))
    assert ports and all(p["host_ip"] == "127.0.0.1" for p in ports), ports


def test_search_attribute_job_lists_every_search_attribute_with_its_type() -> None:
    job = service(service_running("search-attribute create"))
    pairs = (environment(job).get("SEARCH_ATTRIBUTES") or "").split()
    assert dict(pair.split("=", 1) for pair in pairs) == SEARCH_ATTRIBUTES


def test_search_attribute_job_registers_them_in_the_workers_namespace() -> None:
    job = service(service_running("search-attribute create"))
    assert environment(job)["TEMPORAL_NAMESPACE"] == worker_env()["TEMPORAL_NAMESPACE"]
    script = script_of(job)
    assert "$$SEARCH_ATTRIBUTES" in script
    assert "--namespace" in script


def test_scripts_escape_every_dollar_from_compose_interpolation() -> None:
    # A single `$` in a script would be replaced by Compose before the shell sees it.
    for name, config in compose().get("configs", {}).items():
        content = config.get("content", "")
        assert "$" not in content.replace("$$", ""), f"config {name} has an unescaped $"


# ------------------------------------------------------ compose: scaling and startup


def test_worker_can_be_scaled() -> None:
    worker = service("worker")
    assert "container_name" not in worker
    assert "hostname" not in worker
    assert published_ports(worker) == []
    assert worker.get("network_mode") != "host"


def test_worker_is_built_from_the_dockerfile() -> None:
    build = service("worker")["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (REPO / context / dockerfile).resolve() == DOCKERFILE.resolve()


def test_worker_waits_for_a_healthy_mongo_and_the_temporal_setup() -> None:
    deps = depends_on(service("worker"))
    assert deps[mongo_service_name()] == "service_healthy"
    assert deps[service_running("search-attribute create")] == "service_completed_successfully"


def test_every_dependency_awaited_as_healthy_has_a_healthcheck() -> None:
    for name, svc in services().items():
        for dep, condition in depends_on(svc).items():
            if condition == "service_healthy":
                check = service(dep).get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), f"{name} -> {dep}"


def test_jobs_awaited_to_completion_do_not_restart_forever() -> None:
    for svc in services().values():
        for dep, condition in depends_on(svc).items():
            if condition == "service_completed_successfully":
                assert service(dep).get("restart", "no") in ("no", "on-failure"), dep


def test_third_party_images_are_pinned_to_a_tag() -> None:
    for name, svc in services().items():
        if "build" in svc:
            continue
        tag = image_tag(svc["image"])
        assert tag and tag != "latest", f"{name} uses {svc['image']!r}"


# ------------------------------------------------------------------ compose: emulator


def test_emulator_runs_only_under_its_profile() -> None:
    emulator = service("emulator")
    assert emulator.get("profiles") == ["emulator"]
    assert command_of(emulator) == [
        "python", "-m", "emulator", "--host", "0.0.0.0", "--port", "8765",
    ]  # fmt: skip


def test_emulator_runs_from_the_worker_image() -> None:
    worker, emulator = service("worker"), service("emulator")
    assert (emulator.get("build"), emulator.get("image")) == (worker["build"], worker["image"])


def test_no_default_service_depends_on_the_emulator() -> None:
    # Compose refuses to start a service whose dependency's profile is not enabled.
    for name, svc in services().items():
        if not svc.get("profiles"):
            assert "emulator" not in depends_on(svc), name


def test_documented_emulator_url_points_at_the_emulator_port() -> None:
    args = command_of(service("emulator"))
    url = f"http://emulator:{args[args.index('--port') + 1]}/v2"
    assert f"VULTR_API_URL={url}" in COMPOSE_FILE.read_text()
    assert url in ENV_EXAMPLE.read_text()


# ---------------------------------------------------------------------- .env.example


def test_env_example_names_every_setting() -> None:
    assert SETTING_NAMES - set(env_example_values()) == set()


def test_env_example_documents_each_variable_on_the_line_above() -> None:
    lines = env_example()
    for index, line in enumerate(lines):
        if _ASSIGNMENT.match(line):
            above = lines[index - 1] if index else ""
            assert above.startswith("# ") and len(above) > 4, f"{line} has no comment"


def test_env_example_shows_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    loaded = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    for name, field in Settings.model_fields.items():
        if name.upper() not in SECRET_SETTINGS:
            assert getattr(loaded, name) == field.default, name.upper()


def test_env_example_ships_no_secret_values() -> None:
    required = {
        m["name"]
        for text in walk_strings(compose())
        for m in _INTERPOLATION.finditer(text)
        if m.group("name") and m["op"] in ("?", ":?")
    }
    values = env_example_values()
    assert "VULTR_API_KEY" in values
    for name in SECRET_SETTINGS | required:
        assert values.get(name) == "", f"{name} should be empty in .env.example"


def compose_variables() -> set[str]:
    return {
        m["name"]
        for text in walk_strings(compose())
        for m in _INTERPOLATION.finditer(text)
        if m.group("name")
    }


def test_env_example_names_every_variable_compose_reads() -> None:
    assert compose_variables() - set(env_example_values()) == set()


def test_env_example_names_no_variable_that_nothing_reads() -> None:
    assert set(env_example_values()) - SETTING_NAMES - compose_variables() == set()


# --------------------------------------------------------- Dockerfile, .dockerignore


def test_image_is_python_3_11_slim() -> None:
    froms = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert froms[0] == "python:3.11-slim"


def test_image_installs_pinned_uv_from_pypi_and_the_locked_dependencies() -> None:
    runs = [rest for keyword, rest in dockerfile_instructions() if keyword == "RUN"]
    assert any(re.search(r"pip install .*\buv==\d", run) for run in runs)
    assert any("uv sync --frozen --no-dev" in run for run in runs)
    copies = [rest for keyword, rest in dockerfile_instructions() if keyword == "COPY"]
    assert "uv.lock" in copies[0] and "pyproject.toml" in copies[0]


def test_image_runs_the_worker_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    keywords = [keyword for keyword, _ in instructions]
    assert keywords.index("USER") < keywords.index("CMD")
    assert json.loads(instructions[keywords.index("CMD")][1]) == ["python", "worker.py"]


def test_build_context_leaves_out_secrets_and_the_host_virtualenv() -> None:
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".env", ".venv", ".git"} <= ignored


# ------------------------------------- the setup job's script on a real Temporal server


@pytest.fixture(scope="module")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dev server with no custom search attributes and a namespace `preexisting`."""
    port = free_port()
    argv = [venv_bin("temporal"), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    argv += ["--port", str(port), "--http-port", str(free_port())]
    argv += ["--metrics-port", str(free_port()), "--namespace", "preexisting"]
    argv += ["--log-level", "error"]
    log = tmp_path_factory.mktemp("temporal") / "temporal.log"
    server = ManagedProcess("Temporal dev server", argv, log, tcp_ready("127.0.0.1", port))
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def run_setup_job(address: str, namespace: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The setup job's script, as its container would run it, against `address`."""
    job = service(service_running("search-attribute create"))
    script = interpolate(script_of(job), {})
    variables = {"TEMPORAL_NAMESPACE": namespace}
    env = {key: interpolate(value or "", variables) for key, value in environment(job).items()}
    env |= {
        "TEMPORAL_ADDRESS": address,
        "PATH": f"{Path(venv_bin('temporal')).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),  # no CLI profile from the developer's home
    }
    return subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=300
    )


async def registered_attributes(address: str, namespace: str) -> dict[str, str]:
    client = await Client.connect(address, namespace=namespace)
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return {name: _INDEXED_TYPES[kind] for name, kind in response.custom_attributes.items()}


@pytest.fixture(scope="module")
def first_run(
    temporal_address: str, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    """The job's first run, into a namespace that does not exist yet."""
    return run_setup_job(temporal_address, "fresh", tmp_path_factory.mktemp("home"))


@pytest.mark.integration
async def test_setup_job_creates_the_namespace_and_every_search_attribute(
    temporal_address: str, first_run: subprocess.CompletedProcess[str]
) -> None:
    assert first_run.returncode == 0, first_run.stderr
    assert await registered_attributes(temporal_address, "fresh") == SEARCH_ATTRIBUTES


@pytest.mark.integration
async def test_setup_job_succeeds_again_when_everything_exists(
    temporal_address: str, first_run: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    assert first_run.returncode == 0, first_run.stderr
    second = run_setup_job(temporal_address, "fresh", tmp_path)
    assert second.returncode == 0, second.stderr
    assert await registered_attributes(temporal_address, "fresh") == SEARCH_ATTRIBUTES


@pytest.mark.integration
async def test_setup_job_fails_when_an_attribute_exists_with_another_type(
    temporal_address: str, tmp_path: Path
) -> None:
    client = await Client.connect(temporal_address, namespace="preexisting")
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="preexisting",
            search_attributes={"ServerState": IndexedValueType.INDEXED_VALUE_TYPE_TEXT},
        )
    )
    result = run_setup_job(temporal_address, "preexisting", tmp_path)
    assert result.returncode != 0
    assert "ServerState" in result.stderr


# ---------------------------------------------------------------- compose: monitoring


def mounts(svc: Mapping[str, Any]) -> dict[str, Path]:
    """Container path -> repository file for each bind mount of a repository path."""
    result = {}
    for volume in svc.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        if source.startswith("./"):
            result[rest.split(":")[0]] = REPO / source
    return result


def test_monitoring_services_run_only_under_their_profile_and_on_localhost() -> None:
    for name in ("prometheus", "grafana"):
        assert service(name).get("profiles") == ["monitoring"], name
        ports = published_ports(service(name))
        assert ports and all(p["host_ip"] == "127.0.0.1" for p in ports), (name, ports)


def test_prometheus_loads_the_alert_rules_and_scrapes_the_workers_metrics_port() -> None:
    files = mounts(service("prometheus"))
    assert all(path.is_file() for path in files.values()), files
    config = yaml.safe_load(files["/etc/prometheus/prometheus.yml"].read_text())
    rule_files = config["rule_files"]
    assert [files[path] for path in rule_files] == [REPO / "deploy/prometheus/alerts.yml"]
    (job,) = config["scrape_configs"]
    (dns,) = job["dns_sd_configs"]
    assert dns["names"] == ["worker"]
    assert dns["port"] == Settings.model_fields["metrics_port"].default
    assert job["job_name"] in (REPO / "deploy/prometheus/alerts.yml").read_text()


def test_grafana_provisions_the_dashboards_with_the_prometheus_service_as_source() -> None:
    files = mounts(service("grafana"))
    provisioning = files["/etc/grafana/provisioning"]
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert urlparse(source["url"]).hostname == "prometheus"
    (provider,) = yaml.safe_load((provisioning / "dashboards/fleet.yml").read_text())["providers"]
    dashboards = files[provider["options"]["path"]]
    fleet = json.loads((dashboards / "fleet.json").read_text())
    uids = {t["datasource"]["uid"] for p in fleet["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}


def test_each_provider_queue_of_the_default_queue_has_one_partition() -> None:
    main = interpolate(environment(service("worker"))["TEMPORAL_TASK_QUEUE"] or "", {})
    dynamic = yaml.safe_load(compose()["configs"]["temporal-dynamic-config"]["content"])
    for key in ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions"):
        one = {
            entry["constraints"]["taskQueueName"]
            for entry in dynamic[key]
            if entry["value"] == 1 and set(entry["constraints"]) == {"taskQueueName"}
        }
        assert one == {provider_task_queue(main, p) for p in PROVIDER_IDS}, key
