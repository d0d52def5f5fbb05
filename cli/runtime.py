"""What every CLI command shares: settings, a connected fleet, and how failures end.

Expected failures (bad settings, unknown server, refused update, Temporal down) end
with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from client.errors import FleetError
from client.fleet import ServerFleet
from core.settings import Settings, SettingsError, load_settings

__all__ = [
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "err_console",
    "fail",
    "load_cli_settings",
    "out_console",
    "run_with_fleet",
]

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad settings or input; also what typer uses for bad arguments

# Width when the output is not a terminal (a pipe, a log): wide enough for the tables.
PIPE_WIDTH = 160


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=PIPE_WIDTH)


def out_console() -> Console:
    return _console(stderr=False)


def err_console() -> Console:
    """Progress bars and notes: on stderr, so --json output on stdout stays parseable."""
    return _console(stderr=True)


def one_line(message: str) -> str:
    """A multi-line message (such as a list of invalid settings) as one line."""
    text = ""
    for part in (p.strip() for p in message.splitlines()):
        if part:
            text += part if not text else (" " if text.endswith(":") else "; ") + part
    return text


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def load_cli_settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)


def run_with_fleet(
    settings: Settings, action: Callable[[ServerFleet], Awaitable[T]], **options: Any
) -> T:
    """Connect, run `action`, close; FleetError ends the command with its exit code.

    Temporal gets CLI_TIMEOUT_SECONDS to answer the connection and each request.
    """

    async def main() -> T:
        fleet = await ServerFleet.connect(settings, **options)
        async with fleet:
            return await action(fleet)

    try:
        return asyncio.run(main())
    except FleetError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
