"""The account in a JSON file (`--state-file`), so a restarted emulator keeps its instances.

Instances (deleted ones too: the ledger and pending charges derive from them) and the id
generator are loaded at start and written before every answer to a request that may change
them, and at shutdown. The request log, rate-limit windows and faults are not kept.
Times are absolute, so a restarted emulator on the real clock goes on billing and booting
where it left off.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.catalog import OS_BY_ID, PLAN_BY_ID
from emulator.store import Instance, InstanceStore
from emulator.validation import CreateRequest

__all__ = ["SaveOnChange", "StateFile", "StateFileError"]

_FORMAT = 1
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TIMES = ("created_at", "date_created", "deleted_at")


class StateFileError(ValueError):
    """The state file exists but cannot be read back."""


def _request_to_json(request: CreateRequest) -> dict[str, Any]:
    body = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
    body["plan"] = request.plan.id
    body["os"] = request.os.id
    body["user_data"] = base64.b64encode(request.user_data).decode()
    return body


def _request_from_json(body: dict[str, Any]) -> CreateRequest:
    return CreateRequest(
        **{
            **body,
            "plan": PLAN_BY_ID[body["plan"]],
            "os": OS_BY_ID[body["os"]],
            "user_data": base64.b64decode(body["user_data"]),
        }
    )


def _instance_to_json(instance: Instance) -> dict[str, Any]:
    body = {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}
    body["request"] = _request_to_json(instance.request)
    for name in _TIMES:
        moment = body[name]
        body[name] = moment.isoformat() if moment is not None else None
    return body


def _instance_from_json(body: dict[str, Any]) -> Instance:
    times = {
        name: datetime.fromisoformat(body[name]) if body[name] is not None else None
        for name in _TIMES
    }
    return Instance(**{**body, **times, "request": _request_from_json(body["request"])})


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, store: InstanceStore) -> None:
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
                [_instance_from_json(item) for item in data["instances"]],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateFileError(f"cannot load the emulator state from {self.path}: {exc}") from exc

    def save(self, store: InstanceStore) -> None:
        rng_state, next_seq, instances = store.snapshot()
        data = {
            "format": _FORMAT,
            "rng_state": rng_state,
            "next_seq": next_seq,
            "instances": [_instance_to_json(i) for i in instances],
        }
        # Write aside and rename: a crash mid-write never leaves a truncated file.
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data))
        os.replace(partial, self.path)


class SaveOnChange:
    """ASGI middleware: saves the store before answering any request that may change it,
    so every answered change survives a restart (a crash included)."""

    def __init__(self, app: ASGIApp, state_file: StateFile, store: InstanceStore) -> None:
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
