"""The former one-document semaphore (all holders in one array), as it was before the
slot-per-document store replaced it; kept only so bench/leases.py can compare them."""

from bench.legacy_leases.store import LeaseStore

__all__ = ["LeaseStore"]
