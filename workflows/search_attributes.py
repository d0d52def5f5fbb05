"""Typed search attributes the server workflow sets, for the web UI and `list` queries,
and their registration: the one list the dev server, tests and compose setup use."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from temporalio.common import SearchAttributeKey

__all__ = [
    "ALL_KEYS",
    "INSTANCE_KEY",
    "NAME_KEY",
    "PLAN_KEY",
    "PROVIDER_KEY",
    "REGION_KEY",
    "SEARCH_ATTRIBUTES",
    "STATE_KEY",
    "TERMINATE_AT_KEY",
]

STATE_KEY = SearchAttributeKey.for_keyword("ServerState")
NAME_KEY = SearchAttributeKey.for_keyword("ServerName")
PROVIDER_KEY = SearchAttributeKey.for_keyword("Provider")
REGION_KEY = SearchAttributeKey.for_keyword("Region")
PLAN_KEY = SearchAttributeKey.for_keyword("Plan")
INSTANCE_KEY = SearchAttributeKey.for_keyword("InstanceId")
TERMINATE_AT_KEY = SearchAttributeKey.for_datetime("TerminateAt")

ALL_KEYS = (
    STATE_KEY,
    NAME_KEY,
    PROVIDER_KEY,
    REGION_KEY,
    PLAN_KEY,
    INSTANCE_KEY,
    TERMINATE_AT_KEY,
)

# Name -> type as `temporal operator search-attribute create --type` spells it.
SEARCH_ATTRIBUTES: Mapping[str, str] = MappingProxyType(
    {key.name: key.indexed_value_type.name.title() for key in ALL_KEYS}
)
