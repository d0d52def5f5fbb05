"""MongoDB for tests: MONGO_URI when set (a real mongod), else an embedded SecantusDB."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from devstack.components import mongo_process
from devstack.procs import ManagedProcess, free_port


def start_embedded_mongo(
    storage: Path | str, log_dir: Path, port: int | None = None, test_commands: bool = True
) -> tuple[ManagedProcess, str]:
    port = port or free_port()
    proc = mongo_process(port, storage, log_dir / f"mongo-{port}.log", test_commands=test_commands)
    proc.start(timeout=30)
    return proc, f"mongodb://127.0.0.1:{port}/?directConnection=true"


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("MONGO_URI")
    if external:
        yield external
        return
    proc, uri = start_embedded_mongo(":memory:", tmp_path_factory.mktemp("mongo-logs"))
    try:
        yield uri
    finally:
        proc.stop()


@pytest.fixture
async def mongo_client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def mongo_db(mongo_client: AsyncMongoClient):  # type: ignore[no-untyped-def]
    """A fresh database per test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    db = mongo_client[name]
    try:
        yield db
    finally:
        await mongo_client.drop_database(name)


class RestartableMongo:
    """An embedded server on on-disk storage that can be stopped and started again on
    the same port, for tests of what survives a restart."""

    def __init__(self, storage: Path, log_dir: Path) -> None:
        self.storage = storage
        self.log_dir = log_dir
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        self._proc: ManagedProcess | None = None

    def start(self) -> None:
        self._proc, _ = start_embedded_mongo(self.storage, self.log_dir, self.port)

    def stop(self) -> None:
        """Graceful stop (SIGTERM, then SIGKILL after the grace period)."""
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._proc is not None:
            self._proc.kill()
            self._proc = None


@pytest.fixture
def restartable_mongo(tmp_path: Path) -> Iterator[RestartableMongo]:
    """Always embedded, even when MONGO_URI is set: the test must own the process."""
    server = RestartableMongo(tmp_path / "data", tmp_path / "logs")
    server.start()
    try:
        yield server
    finally:
        server.stop()
