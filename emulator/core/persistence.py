"""The account in a JSON file (`--state-file`), so a restarted emulator keeps its servers.

Servers (deleted ones too: the ledger derives from them) and the id generator are loaded
at start and written before every answer to a request that may change them, and at
shutdown. The request log, rate-limit counts and faults are not kept. Times are absolute,
so a restarted emulator on the real clock goes on billing and booting where it left off.
How one server is written is its face's business (RecordCodec).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.core.store import RecordStore

__all__ = ["RecordCodec", "SaveOnChange", "StateFile", "StateFileError"]

R = TypeVar("R")

_FORMAT = 1
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class StateFileError(ValueError):
    """The state file exists but cannot be read back."""


class RecordCodec(Protocol[R]):
    def dump(self, record: R, /) -> dict[str, Any]: ...

    def load(self, body: dict[str, Any], /) -> R: ...


class StateFile:
    def __init__(self, path: Path, codec: RecordCodec[Any]) -> None:
        self.path = path
        self.codec = codec

    def load(self, store: RecordStore[Any]) -> None:
        """Fill `store` from the file; a missing file is an empty account."""
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            if data.get("format") != _FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            version, internal, gauss = data["rng_state"]
            store.restore(
                (version, tuple(internal), gauss),
                int(data["next_seq"]),
                [self.codec.load(item) for item in data["instances"]],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateFileError(f"cannot load the emulator state from {self.path}: {exc}") from exc

    def save(self, store: RecordStore[Any]) -> None:
        rng_state, next_seq, records = store.snapshot()
        data = {
            "format": _FORMAT,
            "rng_state": rng_state,
            "next_seq": next_seq,
            "instances": [self.codec.dump(r) for r in records],
        }
        # Write aside and rename: a crash mid-write never leaves a truncated file.
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data))
        os.replace(partial, self.path)


class SaveOnChange:
    """ASGI middleware: saves the store before answering any request that may change it,
    so every answered change survives a restart (a crash included)."""

    def __init__(self, app: ASGIApp, state_file: StateFile, store: RecordStore[Any]) -> None:
        self.app = app
        self.state_file = state_file
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READ_ONLY_METHODS:
            await self.app(scope, receive, send)
            return

        async def save_then_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.state_file.save(self.store)
            await send(message)

        await self.app(scope, receive, save_then_send)
