"""Hetzner labels: what a key and a value may be, and label selectors
(`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`; a comma means and)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from emulator.core.errors import ApiError
from emulator.hetzner.errors import invalid_field

__all__ = ["Selector", "check_labels", "parse_selector"]

# A value, or a key's name part: empty (values only) or at most 63 characters of
# [a-zA-Z0-9._-], starting and ending alphanumeric. A key may have a DNS prefix and '/'.
_NAME = r"[a-z0-9A-Z]([a-z0-9A-Z._-]{0,61}[a-z0-9A-Z])?"
_VALUE = re.compile(rf"^({_NAME})?$")
_PREFIX = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_KEY_NAME = re.compile(rf"^{_NAME}$")

Selector = Callable[[Mapping[str, str]], bool]


def _key_ok(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        return False
    return bool(_KEY_NAME.match(name))


def check_labels(labels: object, field: str = "labels") -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise invalid_field(field, "must be an object of string keys and string values")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise invalid_field(field, f"value of label {key!r} must be a string")
        if not _key_ok(key):
            raise invalid_field(field, f"invalid label key {key!r}")
        if not _VALUE.match(value):
            raise invalid_field(
                field,
                f"invalid value {value!r} of label {key!r}: at most 63 characters of "
                "a-z, A-Z, 0-9, '.', '_' and '-', starting and ending alphanumeric",
            )
    return dict(labels)


def _bad_selector(selector: str, why: str) -> ApiError:
    return invalid_field("label_selector", f"invalid label selector {selector!r}: {why}")


def _split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses (set expressions hold commas)."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms]


_SET_TERM = re.compile(r"^(\S+)\s+(in|notin)\s+\(([^()]*)\)$")


def _term(term: str, selector: str) -> Selector:
    if not term:
        raise _bad_selector(selector, "empty term")
    match = _SET_TERM.match(term)
    if match:
        key, op, raw = match.groups()
        values = frozenset(v.strip() for v in raw.split(","))
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: key in labels and labels[key] not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, _, value = (part.strip() for part in term.partition(op))
            if not _key_ok(key) or not _VALUE.match(value):
                raise _bad_selector(selector, f"bad term {term!r}")
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        if not _key_ok(key):
            raise _bad_selector(selector, f"bad term {term!r}")
        return lambda labels: key not in labels
    if not _key_ok(term):
        raise _bad_selector(selector, f"bad term {term!r}")
    return lambda labels: term in labels


def parse_selector(selector: str) -> Selector:
    """A predicate on a server's labels; raises ApiError(400 invalid_input) if malformed."""
    terms = [_term(t, selector) for t in _split_terms(selector)]
    return lambda labels: all(term(labels) for term in terms)
