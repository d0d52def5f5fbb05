"""Helpers for the security tests: finding a secret in any form it could leak in, the
payloads inside a history, every log record of the process, and the codec server."""

from __future__ import annotations

import base64
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from devstack.components import PROJECT_ROOT
from devstack.procs import ManagedProcess, free_port

__all__ = [
    "API_KEY",
    "BOOT",
    "DIGITALOCEAN_TOKEN",
    "HCLOUD_TOKEN",
    "MARGIN",
    "PERIOD",
    "SECRETS",
    "LogCapture",
    "RunningCodecServer",
    "Secret",
    "iter_payloads",
    "rendered_records",
    "start_codec_server",
]

# Loggers that set their own level somewhere; forced to DEBUG while capturing.
CHATTY_LOGGERS = ("httpx", "httpcore", "temporalio", "pymongo", "providers", "leases", "activities")

PERIOD = 20  # seconds per billed "hour" on the security tests' emulators
MARGIN = 5
BOOT = 2


def _b64_inner(value: bytes, offset: int, encode: Callable[[bytes], bytes]) -> bytes:
    """The part of the base64 text of `value` that does not depend on its neighbours when
    it starts `offset` bytes into a longer byte string."""
    encoded = encode(b"\0" * offset + value)
    start = -(-4 * offset // 3)  # ceil: first character made only of `value` bits
    end = 4 * (offset + len(value)) // 3
    return encoded[start:end]


@dataclass(frozen=True)
class Secret:
    """A secret and the encodings it could hide in: raw, base64 (as protobuf JSON writes
    bytes fields), URL-encoded."""

    value: str
    forms: tuple[bytes, ...] = field(init=False)

    def __post_init__(self) -> None:
        raw = self.value.encode()
        forms = {raw, quote(self.value, safe="").encode()}
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.update(_b64_inner(raw, offset, encode) for offset in range(3))
        object.__setattr__(self, "forms", tuple(sorted(forms)))

    def found_in(self, data: bytes | str) -> bool:
        blob = data.encode(errors="surrogateescape") if isinstance(data, str) else data
        return any(form in blob for form in self.forms)


def iter_payloads(message: Message) -> Iterator[Payload]:
    """Every Payload nested anywhere in a protobuf message (lists and maps included)."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        kind = descriptor.message_type
        if descriptor.type != descriptor.TYPE_MESSAGE or kind is None:
            continue
        if kind.GetOptions().map_entry:
            values = value.values()
            if kind.fields_by_name["value"].type != descriptor.TYPE_MESSAGE:
                continue
        elif descriptor.is_repeated:
            values = value
        else:
            values = [value]
        for item in values:
            yield from iter_payloads(item)


_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def rendered_records(records: list[logging.LogRecord]) -> str:
    """Each record as a handler would write it (with traceback), plus its raw args and
    extra attributes, which a structured-logging handler would also ship."""
    lines = []
    for record in records:
        lines.append(_FORMAT.format(record))
        lines.append(repr(record.args))
        lines.append(repr({k: v for k, v in vars(record).items() if k not in ("args", "msg")}))
        lines.append(repr(record.msg))
    return "\n".join(lines)


class LogCapture(logging.Handler):
    """Keeps every record the process logs, at DEBUG, from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @contextmanager
    def everything(self) -> Iterator[LogCapture]:
        root = logging.getLogger()
        saved = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
        saved_root = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(saved_root)
            for name, level in saved.items():
                logging.getLogger(name).setLevel(level)


# A key no other test uses; the locked emulator accepts only this one.
API_KEY = Secret("SECTESTKEY" + uuid.uuid4().hex.upper())
HCLOUD_TOKEN = Secret("SECTESTHCLOUD" + uuid.uuid4().hex.upper())
DIGITALOCEAN_TOKEN = Secret("SECTESTDOTOKEN" + uuid.uuid4().hex.upper())
# Every provider credential the leak scans look for: a new provider's token is one entry.
SECRETS: tuple[Secret, ...] = (API_KEY, HCLOUD_TOKEN, DIGITALOCEAN_TOKEN)


@dataclass
class RunningCodecServer:
    process: ManagedProcess
    base: str  # http://127.0.0.1:PORT


def start_codec_server(log_dir: Path, key_hex: str, *args: str) -> RunningCodecServer:
    """`python -m fleet.codec_server` as a child process, healthy once /health answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        "codec server",
        [sys.executable, "-m", "client.codec_server", "--port", str(port), *args],
        log_dir / f"codec-server-{port}.log",
        lambda: httpx.get(f"{base}/health", timeout=0.5).status_code == 200,
        env={"PAYLOAD_ENCRYPTION_KEY": key_hex},
        cwd=PROJECT_ROOT,
    )
    process.start(timeout=30)
    return RunningCodecServer(process, base)
