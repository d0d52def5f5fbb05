"""Connections to Temporal and MongoDB configured from settings, the same everywhere."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.write_concern import WriteConcern
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from core.settings import Settings

__all__ = ["connect_temporal", "data_converter", "mongo_client", "write_concern"]


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, encrypted when PAYLOAD_ENCRYPTION_KEY is set."""
    key = settings.payload_encryption_key
    if key is None:
        return pydantic_data_converter
    from client.codec import EncryptionCodec

    return DataConverter(
        payload_converter_class=pydantic_data_converter.payload_converter_class,
        payload_codec=EncryptionCodec(bytes.fromhex(key.get_secret_value())),
    )


# An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server answers at once.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


async def _silent(address: str, timeout: float) -> bool:  # noqa: ASYNC109
    """Whether the server at HOST:PORT accepts connections but sends nothing back within
    `timeout` seconds, as a stopped (SIGSTOP) or wedged server does.

    The SDK's connect waits about 30 s for such a server and cannot be cancelled cleanly.
    A refused connection or any answer is not silence: the SDK reports those at once.
    """
    host, _, port = address.rpartition(":")
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
            try:
                writer.write(_HTTP2_PREFACE)
                await writer.drain()
                await reader.read(1)
            finally:
                writer.close()
    except TimeoutError:
        return True
    except OSError:
        return False
    return False


async def connect_temporal(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - a bound on a probe, not on the caller
    lazy: bool = False,
) -> Client:
    """A client for TEMPORAL_ADDRESS; `lazy` connects on first use.

    With `timeout` (CLI_TIMEOUT_SECONDS for the CLI), a server that does not answer
    within that many seconds is a ConnectionError saying so.
    """
    address = settings.temporal_address
    if timeout is not None and not lazy and await _silent(address, timeout):
        raise ConnectionError(
            f"Temporal at TEMPORAL_ADDRESS={address} did not answer within {timeout:g} s "
            "(CLI_TIMEOUT_SECONDS); is it stopped or overloaded? Start it with "
            "`python starter.py dev` or point TEMPORAL_ADDRESS at your cluster"
        )
    try:
        return await Client.connect(
            address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings),
            runtime=runtime,
            lazy=lazy,
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
