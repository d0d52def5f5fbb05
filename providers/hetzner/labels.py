"""Hetzner labels for our ownership marks and the spec's tags.

Labels are a map; the lifecycle thinks in `key:value` tags (`core.naming`). A tag
`key:value` becomes the label `key=value` (a tag without `:` a label with an empty value),
and back, so `owner_of` decides ownership the same way for every provider. What does not
fit Hetzner's charset or length limits is refused before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["label_problems", "labels_from_tags", "selector", "tags_from_labels"]

_NAME = r"[a-z0-9A-Z]([a-z0-9A-Z._-]{0,61}[a-z0-9A-Z])?"
_VALUE = re.compile(rf"^({_NAME})?$")
_KEY_NAME = re.compile(rf"^{_NAME}$")
_PREFIX = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_RULE = (
    "at most 63 characters of a-z, A-Z, 0-9, '.', '_' and '-', starting and ending with a "
    "letter or digit"
)


def _key_ok(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        return False
    return bool(_KEY_NAME.match(name))


def label_problems(labels: Mapping[str, str]) -> list[str]:
    """Every key or value Hetzner would refuse, each named with the rule."""
    problems = []
    for key, value in labels.items():
        if not _key_ok(key):
            problems.append(f"label key {key!r} does not fit Hetzner's labels ({_RULE})")
        if not _VALUE.match(value):
            problems.append(
                f"label value {value!r} (of {key!r}) does not fit Hetzner's labels ({_RULE}, "
                "or empty)"
            )
    return problems


def labels_from_tags(tags: Iterable[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for tag in tags:
        key, _, value = tag.partition(":")
        labels[key] = value
    return labels


def tags_from_labels(labels: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(f"{key}:{value}" for key, value in labels.items())


def selector(labels: Mapping[str, str]) -> str:
    """A label selector requiring every label: `k1=v1,k2=v2`."""
    return ",".join(f"{key}={value}" for key, value in labels.items())
