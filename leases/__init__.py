"""MongoDB leases and semaphores with fencing tokens; no Temporal imports."""

from leases.errors import LeaseError, LeaseOutcomeUnknown, LeaseStoreBusy
from leases.metrics import (
    LeaseMetrics,
    LeaseOperation,
    LeaseOutcome,
    NoopLeaseMetrics,
)
from leases.models import (
    Lease,
    LeaseHoldersInput,
)
from leases.store import (
    DEFAULT_GC_GRACE,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_OP_TIMEOUT,
    DEFAULT_WRITE_CONCERN,
    MAX_LIMIT,
    LeaseStore,
    is_ambiguous,
)

__all__ = [
    "DEFAULT_GC_GRACE",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_OP_TIMEOUT",
    "DEFAULT_WRITE_CONCERN",
    "MAX_LIMIT",
    "Lease",
    "LeaseError",
    "LeaseHoldersInput",
    "LeaseMetrics",
    "LeaseOperation",
    "LeaseOutcome",
    "LeaseOutcomeUnknown",
    "LeaseStore",
    "LeaseStoreBusy",
    "NoopLeaseMetrics",
    "is_ambiguous",
]
