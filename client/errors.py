"""Errors of the fleet client: one class per way a request about a server can fail.

Every message is one line that names the server and says what to do, so the CLI
can print it as is. `exit_code` is what the CLI exits with: 2 for input that can
never succeed as given, 1 for everything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "FleetError",
    "FleetUnavailable",
    "InvalidRequest",
    "PoolExists",
    "PoolNotRunning",
    "RequestRefused",
    "ServerExists",
    "ServerFailed",
    "ServerFinished",
    "ServerNotFound",
    "WaitTimeout",
]


class FleetError(Exception):
    """Base of every error the fleet client raises."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        # One line: the CLI prints messages verbatim on stderr.
        self.message = " ".join(message.split("\n")).strip()
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidRequest(FleetError, ValueError):
    """The request is wrong as given (name, spec, cloud-init, catalog); nothing was started."""

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [self.message]


class ServerNotFound(FleetError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"no server named {name}: check the name with `starter.py list --all`, "
            "or provision it first"
        )
        self.name = name


class ServerExists(FleetError):
    """A workflow with this name is still running; names are reusable once it ends."""

    def __init__(self, name: str, state: str) -> None:
        super().__init__(
            f"server {name} already exists and is {state}; choose another name, or "
            f"terminate it and provision again once it is TERMINATED"
        )
        self.name = name
        self.state = state


class RequestRefused(FleetError):
    """The server workflow refused an update; `reason` is its validator's message verbatim."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


class ServerFinished(FleetError):
    """The server's workflow has completed: it accepts no more requests."""

    def __init__(self, name: str, state: str) -> None:
        super().__init__(
            f"server {name} has already finished ({state}) and accepts no more requests; "
            f"provision it again to reuse the name"
        )
        self.name = name
        self.state = state


class ServerFailed(FleetError):
    """The server went to ERROR while it was waited for; `error` is the workflow's reason."""

    def __init__(self, name: str, error: str | None) -> None:
        super().__init__(f"server {name} failed: {error or 'no reason recorded'}")
        self.name = name
        self.error = error


class WaitTimeout(FleetError, TimeoutError):
    def __init__(self, name: str, wanted: Iterable[str], state: str, seconds: float) -> None:
        states = "/".join(sorted(wanted))
        super().__init__(
            f"server {name} did not reach {states} within {seconds:g} s (it is {state}); "
            f"check it with `starter.py status {name}`"
        )
        self.name = name
        self.state = state


class FleetUnavailable(FleetError, ConnectionError):
    """Temporal, MongoDB or the workers did not answer; the message names the setting."""


class PoolExists(FleetError):
    def __init__(self, pool: str) -> None:
        super().__init__(
            f"pool {pool} is already running; change its size with `pool set {pool} "
            f"--min-idle N`, or `pool stop {pool}` first"
        )
        self.pool = pool


class PoolNotRunning(FleetError, LookupError):
    """No pool of that name runs: it never started, or it was stopped."""

    def __init__(self, pool: str) -> None:
        super().__init__(f"no running pool named {pool}; start it with `pool start {pool}`")
        self.pool = pool
