from __future__ import annotations

from typing import Any

import pytest

from leases import LeaseStore


@pytest.fixture
async def store(mongo_db: Any) -> LeaseStore:
    lease_store = LeaseStore(mongo_db)
    await lease_store.ensure_indexes()
    return lease_store
