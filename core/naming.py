"""Naming rules: server name <-> workflow id <-> instance label and tags, and what marks
an instance as ours.

Every instance we create carries two tags: the managed tag and a workflow tag naming
the server workflow that owns it. An instance is ours only when it carries both, and
the workflow tag names exactly one valid server workflow id. The test runs on the
instance as the provider returned it: a server-side list filter only narrows a
listing (a provider or proxy may ignore a deprecated one), it never decides ownership.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "MANAGED_TAG",
    "NAME_PATTERN",
    "RESERVED_TAG_PREFIXES",
    "WORKFLOW_ID_PREFIX",
    "WORKFLOW_TAG_PREFIX",
    "instance_label",
    "instance_tag",
    "name_from_workflow_id",
    "owner_of",
    "validate_server_name",
    "workflow_id_for",
]

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$")
WORKFLOW_ID_PREFIX = "server-"


def validate_server_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"invalid server name {name!r}: use 1-48 lower-case letters, digits and "
            "hyphens, starting and ending with a letter or digit (it becomes the "
            "Vultr label and hostname)"
        )
    return name


def workflow_id_for(name: str) -> str:
    return WORKFLOW_ID_PREFIX + validate_server_name(name)


def name_from_workflow_id(workflow_id: str) -> str:
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


MANAGED_TAG = "managed-by:vultr-lifecycle"
WORKFLOW_TAG_PREFIX = "workflow:"
# A user's own tags may not use these: they would blur what marks an instance as ours.
RESERVED_TAG_PREFIXES = ("managed-by:", WORKFLOW_TAG_PREFIX)


def instance_label(workflow_id: str) -> str:
    """The label of a server's instance, derived from its workflow id."""
    return workflow_id


def instance_tag(workflow_id: str) -> str:
    """The tag that finds a server's instance again (create is not idempotent at Vultr)."""
    return WORKFLOW_TAG_PREFIX + workflow_id


def owner_of(tags: Iterable[str]) -> str | None:
    """The server workflow id that owns an instance with these tags, or None when it is
    not ours (no managed tag, no workflow tag, several, or one that names no server)."""
    tags = list(tags)
    if MANAGED_TAG not in tags:
        return None
    named = {t.removeprefix(WORKFLOW_TAG_PREFIX) for t in tags if t.startswith(WORKFLOW_TAG_PREFIX)}
    if len(named) != 1:
        return None
    (workflow_id,) = named
    name = workflow_id.removeprefix(WORKFLOW_ID_PREFIX)
    if workflow_id == name or NAME_PATTERN.fullmatch(name) is None:
        return None
    return workflow_id
