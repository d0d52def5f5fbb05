"""Typed search attributes the server workflow sets, for the web UI and `list` queries."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

__all__ = [
    "ALL_KEYS",
    "INSTANCE_KEY",
    "NAME_KEY",
    "PLAN_KEY",
    "REGION_KEY",
    "STATE_KEY",
    "TERMINATE_AT_KEY",
]

STATE_KEY = SearchAttributeKey.for_keyword("ServerState")
NAME_KEY = SearchAttributeKey.for_keyword("ServerName")
REGION_KEY = SearchAttributeKey.for_keyword("VultrRegion")
PLAN_KEY = SearchAttributeKey.for_keyword("VultrPlan")
INSTANCE_KEY = SearchAttributeKey.for_keyword("InstanceId")
TERMINATE_AT_KEY = SearchAttributeKey.for_datetime("TerminateAt")

ALL_KEYS = (STATE_KEY, NAME_KEY, REGION_KEY, PLAN_KEY, INSTANCE_KEY, TERMINATE_AT_KEY)
