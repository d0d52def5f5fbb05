"""The local stack behind `python starter.py dev`: every component on this machine, no
Docker, no account.

Components, started in this order and stopped in reverse:

| component           | started when                        | healthy when                  |
| ------------------- | ----------------------------------- | ----------------------------- |
| Temporal dev server | no answering TEMPORAL_ADDRESS given | gRPC answers, custom search   |
|                     |                                     | attributes listed, UI answers |
| embedded MongoDB    | no answering MONGO_URI given        | `ping` succeeds               |
| Vultr emulator      | VULTR_API_KEY is not set            | `GET /health` is 200          |
| Hetzner emulator    | the Vultr one runs, HCLOUD_TOKEN    | `GET /health` is 200          |
|                     | is not set                          |                               |
| worker              | `with_worker` is true               | its metrics port answers      |

Configuration (`DevStackOptions.from_environment` reads these; explicit overrides win):

| variable                       | default             | meaning                           |
| ------------------------------ | ------------------- | --------------------------------- |
| DEVSTACK_DATA_DIR              | <project>/.devstack | SQLite file, MongoDB files,       |
|                                |                     | emulator state, logs/             |
| DEVSTACK_TEMPORAL_PORT         | 7233                | Temporal gRPC port                |
| DEVSTACK_UI_PORT               | 8233                | Temporal web UI port              |
| DEVSTACK_MONGO_PORT            | 27017               | embedded MongoDB port             |
| DEVSTACK_EMULATOR_PORT         | 8765                | Vultr emulator port               |
| DEVSTACK_HETZNER_PORT          | 8766                | Hetzner emulator port             |
| DEVSTACK_DIGITALOCEAN_PORT     | 8767                | DigitalOcean emulator port        |
| DEVSTACK_EMULATOR_BOOT_SECONDS | 5                   | emulator: create to running/ok    |
| METRICS_PORT                   | 9464                | worker Prometheus port            |
| TEMPORAL_ADDRESS               | unset               | set and answering: use it (and    |
|                                |                     | add missing search attributes)    |
| MONGO_URI                      | unset               | set and answering: use it         |
| VULTR_API_KEY                  | unset               | set: real Vultr at VULTR_API_URL, |
|                                |                     | no emulator                       |
| BILLING_PERIOD_SECONDS         | 3600                | emulator billing, worker policy   |
| TERMINATE_BEFORE_SECONDS       | 60                  | worker policy                     |
| TEMPORAL_NAMESPACE             | default             | created locally, given the worker |
| MONGO_DB                       | vultr_lifecycle     | given to the worker               |

A port of 0 means "any free port". Every port is checked before anything starts, so a
taken one fails the whole command at once, named with its variable (`PortInUseError`).
One stack at a time may use a data folder (a lock file guards it). Each child runs in
its own process group and is stopped with its descendants; a stack killed with SIGKILL
cannot clean up, and its leftovers then show up as taken ports on the next start.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Annotated, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from core.settings import DEFAULT_VULTR_API_URL, Settings, SettingsError, load_settings
from core.validation import validation_problems
from devstack.components import (
    PROJECT_ROOT,
    SEARCH_ATTRIBUTES,
    emulator_process,
    mongo_process,
    temporal_process,
    worker_process,
)
from devstack.procs import (
    ComponentError,
    ManagedProcess,
    PortInUseError,
    StartCancelled,
    free_port,
    port_in_use,
    venv_bin,
)

__all__ = [
    "DEFAULT_DATA_DIR",
    "EMULATOR_API_KEY",
    "EMULATOR_STATE_FILE",
    "DIGITALOCEAN_STATE_FILE",
    "HETZNER_STATE_FILE",
    "DevStack",
    "DevStackError",
    "DevStackOptions",
    "DevStackUrls",
    "run_devstack",
]

DEFAULT_DATA_DIR = PROJECT_ROOT / ".devstack"
# The emulator's instances and charges, in the data folder so a restart keeps them.
EMULATOR_STATE_FILE = "emulator-state.json"
HETZNER_STATE_FILE = "hetzner-emulator-state.json"
DIGITALOCEAN_STATE_FILE = "digitalocean-emulator-state.json"

# Handed to the worker (only in its environment) when it talks to the emulator, which
# accepts any non-empty bearer token.
EMULATOR_API_KEY = "local-emulator"

# Option field -> the environment variable `from_environment` reads it from.
_ENV_VARS: dict[str, str] = {
    "data_dir": "DEVSTACK_DATA_DIR",
    "temporal_port": "DEVSTACK_TEMPORAL_PORT",
    "ui_port": "DEVSTACK_UI_PORT",
    "mongo_port": "DEVSTACK_MONGO_PORT",
    "emulator_port": "DEVSTACK_EMULATOR_PORT",
    "hetzner_port": "DEVSTACK_HETZNER_PORT",
    "digitalocean_port": "DEVSTACK_DIGITALOCEAN_PORT",
    "emulator_boot_seconds": "DEVSTACK_EMULATOR_BOOT_SECONDS",
    "metrics_port": "METRICS_PORT",
    "temporal_address": "TEMPORAL_ADDRESS",
    "mongo_uri": "MONGO_URI",
    "temporal_namespace": "TEMPORAL_NAMESPACE",
    "mongo_db": "MONGO_DB",
    "billing_period_seconds": "BILLING_PERIOD_SECONDS",
    "terminate_before_seconds": "TERMINATE_BEFORE_SECONDS",
    "vultr_api_url": "VULTR_API_URL",
}

_LABEL_WIDTH = 17
_PROBE_TIMEOUT = 5.0

Port = Annotated[int, Field(ge=0, le=65535)]


class DevStackError(ComponentError):
    """The stack cannot start as configured (data folder in use, conflicting ports, an
    existing server that cannot be used); the message says what to change."""


class DevStackOptions(BaseModel):
    """What to run and where. Construct directly (tests, demo) or with `from_environment`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    temporal_port: Port = 7233
    ui_port: Port = 8233
    mongo_port: Port = 27017
    emulator_port: Port = 8765
    hetzner_port: Port = 8766
    digitalocean_port: Port = 8767
    metrics_port: Port = 9464
    # Existing servers to use instead of starting one, when they answer.
    temporal_address: str | None = None
    mongo_uri: str | None = None
    temporal_namespace: str = "default"
    mongo_db: str = "vultr_lifecycle"
    # False when VULTR_API_KEY is set: the worker then talks to `vultr_api_url`.
    use_emulator: bool = True
    vultr_api_url: str = DEFAULT_VULTR_API_URL
    # Beside the Vultr emulator, a Hetzner one, unless HCLOUD_TOKEN names a real project.
    use_hetzner_emulator: bool = True
    # And a DigitalOcean one, unless DIGITALOCEAN_TOKEN names a real account.
    use_digitalocean_emulator: bool = True
    emulator_boot_seconds: float = Field(default=5.0, ge=0)
    emulator_rate_limit: int = Field(default=30, ge=0)  # 0 disables the limit
    billing_period_seconds: int = Field(default=3600, gt=0)
    terminate_before_seconds: int = Field(default=60, ge=0)
    with_worker: bool = True
    start_timeout_seconds: float = Field(default=60.0, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _distinct_ports(self) -> DevStackOptions:
        used = {"temporal_port": self.temporal_port, "ui_port": self.ui_port}
        used["mongo_port"] = self.mongo_port
        if self.use_emulator:
            used["emulator_port"] = self.emulator_port
        if self.runs_hetzner_emulator:
            used["hetzner_port"] = self.hetzner_port
        if self.runs_digitalocean_emulator:
            used["digitalocean_port"] = self.digitalocean_port
        if self.with_worker:
            used["metrics_port"] = self.metrics_port
        seen: dict[int, str] = {}
        for name, port in used.items():
            if port and port in seen:
                raise ValueError(f"{seen[port]} and {name} are both {port}; give each its own port")
            seen[port] = name
        return self

    @property
    def runs_hetzner_emulator(self) -> bool:
        return self.use_emulator and self.use_hetzner_emulator

    @property
    def runs_digitalocean_emulator(self) -> bool:
        return self.use_emulator and self.use_digitalocean_emulator

    @classmethod
    def from_environment(
        cls, settings: Settings | None = None, **overrides: Any
    ) -> DevStackOptions:
        """Options from DEVSTACK_* variables and the project Settings (env and `.env`).

        TEMPORAL_ADDRESS and MONGO_URI count only when set explicitly, not as defaults.
        Raises SettingsError naming each invalid variable.
        """
        settings = settings if settings is not None else load_settings()
        key = settings.vultr_api_key
        values: dict[str, Any] = {
            "metrics_port": settings.metrics_port,
            "temporal_namespace": settings.temporal_namespace,
            "mongo_db": settings.mongo_db,
            "billing_period_seconds": settings.billing_period_seconds,
            "terminate_before_seconds": settings.terminate_before_seconds,
            "use_emulator": key is None or not key.get_secret_value(),
            "use_hetzner_emulator": not settings.hetzner_configured,
            "use_digitalocean_emulator": not settings.digitalocean_configured,
            "vultr_api_url": settings.vultr_api_url,
        }
        if "temporal_address" in settings.model_fields_set:
            values["temporal_address"] = settings.temporal_address
        if "mongo_uri" in settings.model_fields_set:
            values["mongo_uri"] = settings.mongo_uri
        for name, var in _ENV_VARS.items():
            raw = os.environ.get(var, "").strip()
            if var.startswith("DEVSTACK_") and raw:
                values[name] = raw
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_describe_option_errors(exc)) from None


def _describe_option_errors(exc: ValidationError) -> str:
    problems = validation_problems(exc, where=_option_name)
    return "invalid devstack configuration:\n  " + "\n  ".join(problems)


def _option_name(loc: Sequence[int | str]) -> str:
    field = str(loc[0])
    return f"{_ENV_VARS[field]} ({field})" if field in _ENV_VARS else field


class DevStackUrls(BaseModel):
    """Where each part of a running stack answers."""

    model_config = ConfigDict(frozen=True)

    temporal_address: str
    temporal_namespace: str
    temporal_ui: str | None  # None when an existing Temporal server is used
    mongo_uri: str
    mongo_db: str
    vultr_api_url: str
    worker_metrics: str | None  # None without a worker
    log_dir: Path
    temporal_external: bool = False
    mongo_external: bool = False
    vultr_emulated: bool = True
    hetzner_api_url: str | None = None  # the Hetzner emulator's, when it runs
    digitalocean_api_url: str | None = None  # the DigitalOcean emulator's, when it runs


@dataclass(frozen=True)
class _Planned:
    """A component this stack will start, and the ports it needs free."""

    process: ManagedProcess
    ports: tuple[str, ...]  # option names, e.g. "ui_port"


class DevStack:
    """Start, watch and stop the local stack.

    `with DevStack(options) as stack: stack.urls ...` starts everything on enter (or
    raises with nothing left running) and stops it all on exit. Progress and the banner
    go to `out` (stdout by default).
    """

    def __init__(self, options: DevStackOptions, *, out: TextIO | None = None) -> None:
        self.options = options
        self._out = out if out is not None else sys.stdout
        self._stop_requested = threading.Event()
        self._stop_signal: int | None = None
        self._started: list[ManagedProcess] = []
        self._urls: DevStackUrls | None = None
        self._lock: _DataDirLock | None = None

    # --- public surface -------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.options.data_dir

    @property
    def log_dir(self) -> Path:
        return self.options.data_dir / "logs"

    @property
    def urls(self) -> DevStackUrls:
        if self._urls is None:
            raise DevStackError(
                "the devstack is not running: call start() or use `with DevStack(...)`"
            )
        return self._urls

    @property
    def processes(self) -> tuple[ManagedProcess, ...]:
        """The components this stack started (existing servers it uses are not listed)."""
        return tuple(self._started)

    def settings_env(self) -> dict[str, str]:
        """The Settings variables that point a process (worker, CLI) at this stack.

        Holds the emulator's placeholder key when the emulator is used, never a real key.
        """
        urls = self.urls
        env = {
            "TEMPORAL_ADDRESS": urls.temporal_address,
            "TEMPORAL_NAMESPACE": urls.temporal_namespace,
            "MONGO_URI": urls.mongo_uri,
            "MONGO_DB": urls.mongo_db,
            "VULTR_API_URL": urls.vultr_api_url,
            "BILLING_PERIOD_SECONDS": str(self.options.billing_period_seconds),
            "TERMINATE_BEFORE_SECONDS": str(self.options.terminate_before_seconds),
        }
        if urls.vultr_emulated:
            env["VULTR_API_KEY"] = EMULATOR_API_KEY
        if urls.hetzner_api_url is not None:
            env["HCLOUD_API_URL"] = urls.hetzner_api_url
            env["HCLOUD_TOKEN"] = EMULATOR_API_KEY
        if urls.digitalocean_api_url is not None:
            env["DIGITALOCEAN_API_URL"] = urls.digitalocean_api_url
            env["DIGITALOCEAN_TOKEN"] = EMULATOR_API_KEY
        return env

    def request_stop(self, signum: int | None = None) -> None:
        """Ask a starting or running stack to stop; safe to call from a signal handler."""
        if signum is not None:
            self._stop_signal = signum
        self._stop_requested.set()

    def start(self) -> DevStackUrls:
        """Start every component and wait until each is healthy; prints progress and the
        banner. On any failure stops what it started and raises (PortInUseError,
        DevStackError, ComponentError, StartCancelled after `request_stop`)."""
        if self._lock is not None:
            raise DevStackError("this devstack is already started")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _DataDirLock.acquire(self.data_dir)
        try:
            self._urls = self._start_all()
        except BaseException:
            self.stop()
            raise
        self._say(self.banner())
        return self._urls

    def stop(self) -> None:
        """Stop what this stack started, newest first; finishes even if interrupted."""
        interrupted: BaseException | None = None
        while self._started:
            proc = self._started.pop()
            if proc.process is None:
                continue
            self._say(f"stopping {proc.name} ... ", end="")
            began = time.monotonic()
            try:
                proc.stop()
            except KeyboardInterrupt as exc:  # finish the others, then re-raise
                interrupted = exc
                proc.kill()
            self._say(f"done ({time.monotonic() - began:.1f} s)")
        self._urls = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if interrupted is not None:
            raise interrupted

    def failed_component(self) -> ManagedProcess | None:
        """The first started component that is no longer running, if any."""
        return next((p for p in self._started if not p.running()), None)

    def wait(self, poll_seconds: float = 0.2) -> int:
        """Block until `request_stop` (returns 0) or a component exits (returns 1)."""
        # Polls is_set() with sleeps rather than Event.wait(): a signal handler that sets
        # the event while this thread holds the event's lock would deadlock.
        while not self._stop_requested.is_set():
            dead = self.failed_component()
            if dead is not None:
                code = dead.process.returncode if dead.process else None
                self._say(
                    f"{dead.name} exited unexpectedly (code {code}); stopping the stack. "
                    f"See {dead.log_path}:\n{dead.tail()}"
                )
                return 1
            time.sleep(poll_seconds)
        self._say_stop_reason()
        return 0

    def _say_stop_reason(self) -> None:
        if self._stop_signal is not None:
            self._say(f"received {signal.Signals(self._stop_signal).name}; stopping")

    def banner(self) -> str:
        """One line per component: label, then its URL, then a note when useful."""
        urls = self.urls
        rows: list[tuple[str, str, str]] = []
        if urls.temporal_ui is not None:
            rows.append(("Temporal UI", urls.temporal_ui, ""))
        existing = "existing server, not started here"
        rows.append(
            ("Temporal gRPC", urls.temporal_address, existing if urls.temporal_external else "")
        )
        rows.append(
            ("MongoDB", _redact_uri(urls.mongo_uri), existing if urls.mongo_external else "")
        )
        if urls.vultr_emulated:
            rows.append(("Vultr emulator", urls.vultr_api_url, ""))
        else:
            rows.append(("Vultr API", urls.vultr_api_url, "real Vultr API, not the emulator"))
        if urls.hetzner_api_url is not None:
            rows.append(("Hetzner emulator", urls.hetzner_api_url, ""))
        if urls.digitalocean_api_url is not None:
            rows.append(("DigitalOcean", urls.digitalocean_api_url, "emulator, real seconds"))
        if urls.worker_metrics is not None:
            rows.append(("Worker metrics", urls.worker_metrics, ""))
        else:
            rows.append(("Worker", "not started", ""))
        rows.append(("Logs", _display_dir(urls.log_dir), ""))
        return "\n".join(
            f"{label.ljust(_LABEL_WIDTH)}{value}" + (f"  ({note})" if note else "")
            for label, value, note in rows
        )

    def __enter__(self) -> DevStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- starting -------------------------------------------------------------------

    def _start_all(self) -> DevStackUrls:
        opts = self.options
        host = opts.host
        ports = _resolve_ports(opts)
        namespace = opts.temporal_namespace
        planned: list[_Planned] = []

        temporal_address = self._existing_temporal()
        temporal_ui: str | None = None
        if temporal_address is None:
            temporal_address = f"{host}:{ports['temporal_port']}"
            temporal_ui = f"http://{host}:{ports['ui_port']}"
            temporal = temporal_process(
                ports["temporal_port"],
                ports["ui_port"],
                self._log("temporal"),
                db_filename=self.data_dir / "temporal.sqlite",
                host=host,
                namespace=namespace,
            )
            temporal.ready = _temporal_ready(host, ports["temporal_port"], namespace, temporal_ui)
            planned.append(_Planned(temporal, ("temporal_port", "ui_port")))

        mongo_uri = self._existing_mongo()
        mongo_external = mongo_uri is not None
        if mongo_uri is None:
            mongo_uri = f"mongodb://{host}:{ports['mongo_port']}/?directConnection=true"
            mongo = mongo_process(
                ports["mongo_port"], self.data_dir / "mongo", self._log("mongo"), host
            )
            mongo.ready = _mongo_ready(host, ports["mongo_port"], mongo_uri)
            planned.append(_Planned(mongo, ("mongo_port",)))

        def emulator(
            provider: str,
            port_key: str,
            log: str,
            prefix: str,
            state: str,
            *,
            billing_period_seconds: float,
            rate_limit: int,
        ) -> str:
            """Plan one provider's emulator; its API URL."""
            proc = emulator_process(
                ports[port_key],
                self._log(log),
                provider=provider,
                host=host,
                boot_seconds=opts.emulator_boot_seconds,
                # Workflows resumed after a restart still find their instances.
                state_file=self.data_dir / state,
                billing_period_seconds=billing_period_seconds,
                rate_limit=rate_limit,
            )
            proc.env = {"PYTHONUNBUFFERED": "1"}
            planned.append(_Planned(proc, (port_key,)))
            return f"http://{host}:{ports[port_key]}{prefix}"

        vultr_api_url = opts.vultr_api_url
        if opts.use_emulator:
            vultr_api_url = emulator(
                "vultr",
                "emulator_port",
                "emulator",
                "/v2",
                EMULATOR_STATE_FILE,
                billing_period_seconds=opts.billing_period_seconds,
                rate_limit=opts.emulator_rate_limit,
            )
        hetzner_api_url: str | None = None
        if opts.runs_hetzner_emulator:
            hetzner_api_url = emulator(
                "hetzner",
                "hetzner_port",
                "hetzner-emulator",
                "/v1",
                HETZNER_STATE_FILE,
                billing_period_seconds=opts.billing_period_seconds,
                rate_limit=3600,  # Hetzner's own: 3,600 an hour, refilled one a second
            )
        digitalocean_api_url: str | None = None
        if opts.runs_digitalocean_emulator:
            digitalocean_api_url = emulator(
                "digitalocean",
                "digitalocean_port",
                "digitalocean-emulator",
                "/v2",
                DIGITALOCEAN_STATE_FILE,
                # Per-second billing is not compressed: a billed second is a real second,
                # so the ledger's seconds are the idle windows the workflows wait out.
                billing_period_seconds=3600,
                rate_limit=250,  # DigitalOcean's own: 250 a minute (and 5,000 an hour)
            )

        urls = DevStackUrls(
            temporal_address=temporal_address,
            temporal_namespace=namespace,
            temporal_ui=temporal_ui,
            mongo_uri=mongo_uri,
            mongo_db=opts.mongo_db,
            vultr_api_url=vultr_api_url,
            worker_metrics=f"http://{host}:{ports['metrics_port']}/metrics"
            if opts.with_worker
            else None,
            log_dir=self.log_dir,
            temporal_external=temporal_ui is None,
            mongo_external=mongo_external,
            vultr_emulated=opts.use_emulator,
            hetzner_api_url=hetzner_api_url,
            digitalocean_api_url=digitalocean_api_url,
        )
        # The worker's environment comes from the URLs above; settings_env() reads _urls.
        self._urls = urls
        if opts.with_worker:
            env = {**self.settings_env(), "METRICS_PORT": str(ports["metrics_port"])}
            env["PYTHONUNBUFFERED"] = "1"
            worker = worker_process(self._log("worker"), env, ports["metrics_port"])
            planned.append(_Planned(worker, ("metrics_port",)))

        # Every check before the first start: a bad configuration starts nothing.
        for item in planned:
            for name in item.ports:
                if port_in_use(host, ports[name]):
                    raise PortInUseError(item.process.name, host, ports[name], _ENV_VARS[name])
        if urls.temporal_external:
            self._register_search_attributes(temporal_address, namespace)
        for item in planned:
            self._start_one(item.process)
        return urls

    def _existing_temporal(self) -> str | None:
        address = self.options.temporal_address
        if address is None:
            return None
        self._say(f"checking Temporal at {address} ... ", end="")
        if _temporal_answers(address):
            self._say("answers; using it")
            return address
        self._say("no answer; starting a local Temporal dev server instead")
        return None

    def _existing_mongo(self) -> str | None:
        uri = self.options.mongo_uri
        if uri is None:
            return None
        self._say(f"checking MongoDB at {_redact_uri(uri)} ... ", end="")
        if _mongo_answers(uri, _PROBE_TIMEOUT):
            self._say("answers; using it")
            return uri
        self._say("no answer; starting the embedded MongoDB instead")
        return None

    def _register_search_attributes(self, address: str, namespace: str) -> None:
        """Add the custom search attributes an existing server lacks; without them every
        workflow task that upserts them fails and retries forever."""
        present = _custom_search_attributes(address, namespace)
        wrong = [
            f"{name} is {present[name]}, not {kind}"
            for name, kind in SEARCH_ATTRIBUTES.items()
            if name in present and present[name] != _indexed_type(kind)
        ]
        if wrong:
            raise DevStackError(
                f"Temporal at {address} has search attributes of the wrong type: "
                f"{'; '.join(wrong)}. Use another namespace or server (TEMPORAL_NAMESPACE, "
                f"TEMPORAL_ADDRESS), or unset TEMPORAL_ADDRESS to run a local one"
            )
        missing = [name for name in SEARCH_ATTRIBUTES if name not in present]
        if not missing:
            return
        self._say(f"registering search attributes {', '.join(missing)} on {address} ... ", end="")
        for name in missing:
            # One call per attribute: temporal CLI 1.9.1 accepts several --name flags
            # but registers only the first.
            argv = [venv_bin("temporal"), "operator", "search-attribute", "create"]
            argv += ["--address", address, "--namespace", namespace]
            argv += ["--name", name, "--type", SEARCH_ATTRIBUTES[name]]
            result = _run_cli(argv)
            if result.returncode != 0:
                self._say("failed")
                raise DevStackError(
                    f"could not register search attribute {name} ({SEARCH_ATTRIBUTES[name]}) "
                    f"on {address}: {result.stderr.strip() or result.stdout.strip()}. Register "
                    f"it there, or unset TEMPORAL_ADDRESS to run a local server"
                )
        still_missing = set(missing) - set(_custom_search_attributes(address, namespace))
        if still_missing:
            self._say("failed")
            raise DevStackError(
                f"Temporal at {address} accepted but did not list search attributes "
                f"{', '.join(sorted(still_missing))}; register them there, or unset "
                f"TEMPORAL_ADDRESS to run a local server"
            )
        self._say("ok")

    def _start_one(self, proc: ManagedProcess) -> None:
        if self._stop_requested.is_set():
            raise StartCancelled(f"start of the {proc.name} cancelled")
        with proc.log_path.open("a", encoding="utf-8") as log:
            log.write(
                f"\n===== devstack starting {proc.name} at {datetime.now(UTC).isoformat()} =====\n"
            )
        self._say(f"starting {proc.name} ... ", end="")
        began = time.monotonic()
        self._started.append(proc)  # listed before spawning, so stop() reaches a half-start
        try:
            proc.start(timeout=self.options.start_timeout_seconds, cancel=self._stop_requested)
        except OSError as exc:
            self._say("failed")
            raise ComponentError(
                f"cannot run the {proc.name} ({proc.argv[0]}): {exc}; "
                f"run `uv sync` in {PROJECT_ROOT}"
            ) from None
        except BaseException:
            self._say("failed")
            raise
        self._say(f"ok ({time.monotonic() - began:.1f} s)")

    def _log(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"

    def _say(self, text: str, end: str = "\n") -> None:
        self._out.write(text + end)
        self._out.flush()


def _resolve_ports(opts: DevStackOptions) -> dict[str, int]:
    """The configured ports, with each 0 replaced by a distinct free port."""
    names = (
        "temporal_port",
        "ui_port",
        "mongo_port",
        "emulator_port",
        "hetzner_port",
        "digitalocean_port",
        "metrics_port",
    )
    ports = {name: int(getattr(opts, name)) for name in names}
    taken = {p for p in ports.values() if p}
    for name, port in ports.items():
        if port == 0:
            while (candidate := free_port(opts.host)) in taken:
                pass
            ports[name] = candidate
            taken.add(candidate)
    return ports


# --- health probes ------------------------------------------------------------------


def _run_cli(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(
            argv, 124, "", f"no answer within {_PROBE_TIMEOUT:.0f} s"
        )


def _temporal_answers(address: str) -> bool:
    result = _run_cli(
        [venv_bin("temporal"), "operator", "cluster", "health", "--address", address, "-o", "json"]
    )
    return result.returncode == 0 and "SERVING" in result.stdout


def _indexed_type(kind: str) -> str:
    """`KeywordList` -> `INDEXED_VALUE_TYPE_KEYWORD_LIST`, as the CLI's JSON names types."""
    return "INDEXED_VALUE_TYPE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", kind).upper()


def _custom_search_attributes(address: str, namespace: str) -> dict[str, str]:
    argv = [venv_bin("temporal"), "operator", "search-attribute", "list"]
    result = _run_cli(argv + ["--address", address, "--namespace", namespace, "-o", "json"])
    if result.returncode != 0:
        raise DevStackError(
            f"cannot list search attributes of namespace {namespace!r} at {address}: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return dict(json.loads(result.stdout).get("customAttributes") or {})


def _temporal_ready(host: str, port: int, namespace: str, ui_url: str | None) -> Callable[[], bool]:
    address = f"{host}:{port}"

    def probe() -> bool:
        if not port_in_use(host, port):
            return False
        present = _custom_search_attributes(address, namespace)
        if any(name not in present for name in SEARCH_ATTRIBUTES):
            return False
        return ui_url is None or httpx.get(ui_url, timeout=1.0).status_code == 200

    return probe


def _mongo_answers(uri: str, timeout: float) -> bool:
    # A refused connection would otherwise cost the whole server-selection timeout.
    if uri.startswith("mongodb://"):
        try:
            nodes = parse_uri(uri)["nodelist"]
        except (PyMongoError, ValueError):
            return False
        if not any(_reachable(host, port) for host, port in nodes):
            return False
    ms = int(timeout * 1000)
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
        )
    except PyMongoError:
        return False
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _reachable(host: str, port: int) -> bool:
    try:
        return port_in_use(host, port)
    except OSError:  # the name does not resolve
        return False


def _mongo_ready(host: str, port: int, uri: str) -> Callable[[], bool]:
    return lambda: port_in_use(host, port) and _mongo_answers(uri, 2.0)


# --- display ------------------------------------------------------------------------


def _redact_uri(uri: str) -> str:
    """The URI with any password replaced, for printing."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:****@{hostinfo}"))


def _display_dir(path: Path) -> str:
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return shown.rstrip("/") + "/"


# --- data folder lock ---------------------------------------------------------------


class _DataDirLock:
    """An exclusive flock on `<data_dir>/devstack.lock`; the kernel drops it when the
    holder dies, so a crashed stack never blocks the next one."""

    def __init__(self, file: Any) -> None:
        self._file = file

    @classmethod
    def acquire(cls, data_dir: Path) -> _DataDirLock:
        path = data_dir / "devstack.lock"
        file = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise DevStackError(
                f"another devstack (pid {holder}) is using {data_dir}; stop it, or give this "
                f"one its own folder with DEVSTACK_DATA_DIR"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        return cls(file)

    def release(self) -> None:
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()


# --- foreground entry point ---------------------------------------------------------

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_devstack(
    options: DevStackOptions, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the stack in the foreground until Ctrl-C, SIGTERM or SIGHUP, then stop it all.

    Returns 0 after a requested stop, 1 when a component fails to start or dies, 2 when
    the configuration prevents starting (taken port, data folder in use).
    """
    err = err if err is not None else sys.stderr
    stack = DevStack(options, out=out)
    previous = _install_stop_handlers(stack)
    try:
        try:
            stack.start()
        except StartCancelled:
            stack._say_stop_reason()
            return 0
        except (PortInUseError, DevStackError) as exc:
            err.write(f"error: {exc}\n")
            return 2
        except ComponentError as exc:
            err.write(f"error: {exc}\n")
            return 1
        stack._say("ready; press Ctrl-C to stop")
        return stack.wait()
    finally:
        # Handlers stay installed (and only record the request) until everything is
        # stopped, so a second Ctrl-C cannot cut the cleanup short.
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _install_stop_handlers(stack: DevStack) -> dict[signal.Signals, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stack.request_stop(signum)

    return {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
