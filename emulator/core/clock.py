"""The emulator's notion of now: a callable returning an aware UTC datetime, so tests
move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "format_time", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """ISO 8601 in whole seconds with an explicit offset: `2024-01-01T00:00:00+00:00`."""
    return moment.isoformat(timespec="seconds")
