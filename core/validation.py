"""What a pydantic ValidationError says, as the problems a user reads: one place for
the wording every refusal of bad input shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

__all__ = ["dotted", "validation_problems"]

Location = Sequence[int | str]


def dotted(loc: Location) -> str:
    """A field's location as the request spells it: `spec.region`, `tags.0`."""
    return ".".join(str(part) for part in loc)


def validation_problems(
    exc: ValidationError, where: Callable[[Location], str] = dotted
) -> list[str]:
    """Each problem as `where: message` (the message alone when it has no location),
    without pydantic's "Value error, " prefix."""
    problems = []
    for err in exc.errors():
        place = where(err["loc"]) if err["loc"] else ""
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{place}: {message}" if place else message)
    return problems
