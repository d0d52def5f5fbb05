"""Errors of the lease store."""

from __future__ import annotations

__all__ = ["LeaseError", "LeaseOutcomeUnknown", "LeaseStoreBusy"]


class LeaseError(Exception):
    """Base class for lease store errors."""


class LeaseOutcomeUnknown(LeaseError):
    """A lease write may or may not have been applied, and reading back did not settle it.

    Never treat this as holding the lease. Retrying is safe: acquire is idempotent per
    owner (a retry returns the slot the owner already holds), renew and release only
    touch the holding with the given token.
    """

    def __init__(self, operation: str, resource: str, owner: str, cause: BaseException) -> None:
        super().__init__(
            f"outcome of {operation} on lease {resource!r} for owner {owner!r} is unknown "
            f"({type(cause).__name__}: {cause}); do not assume the lease is held, retry the "
            f"{operation}: it is idempotent for the same owner"
        )
        self.operation = operation
        self.resource = resource
        self.owner = owner


class LeaseStoreBusy(LeaseError):
    """This process already has its most lease store calls in flight and none finished
    in time; nothing was sent to MongoDB, so retrying later is safe."""

    def __init__(self, operation: str, resource: str, in_flight: int, waited: float) -> None:
        super().__init__(
            f"{operation} on {resource!r} not sent: this process has {in_flight} lease "
            f"store calls in flight and none finished within {waited:g} s; retry later"
        )
        self.operation = operation
        self.resource = resource
