"""Connections to Temporal and MongoDB configured from settings, the same everywhere."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.write_concern import WriteConcern
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from orchestrator.settings import Settings

__all__ = ["connect_temporal", "data_converter", "mongo_client", "write_concern"]


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, encrypted when PAYLOAD_ENCRYPTION_KEY is set."""
    key = settings.payload_encryption_key
    if key is None:
        return pydantic_data_converter
    from fleet.codec import EncryptionCodec

    return DataConverter(
        payload_converter_class=pydantic_data_converter.payload_converter_class,
        payload_codec=EncryptionCodec(bytes.fromhex(key.get_secret_value())),
    )


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings),
            runtime=runtime,
        )
    except RuntimeError as exc:
        raise ConnectionError(
            f"cannot reach Temporal at TEMPORAL_ADDRESS={settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}): {exc}. Start it with "
            "`python starter.py dev` or point TEMPORAL_ADDRESS at your cluster"
        ) from None


def write_concern(settings: Settings) -> WriteConcern:
    w: Any = settings.mongo_write_concern
    return WriteConcern(w if w == "majority" else int(w), j=True)


def mongo_client(settings: Settings, **options: Any) -> AsyncMongoClient[Any]:
    return AsyncMongoClient(
        settings.mongo_uri,
        tz_aware=True,
        retryWrites=True,
        serverSelectionTimeoutMS=options.pop("server_selection_timeout_ms", 10_000),
        **options,
    )
