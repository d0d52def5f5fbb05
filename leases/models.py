"""Lease values and the inputs of the lease activities, as pydantic v2 models.

Plain data with no IO, so workflows can import them and temporalio's pydantic data
converter can carry them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Lease",
    "LeaseHoldersInput",
]


class Lease(BaseModel):
    """One holder's slot of a resource.

    `token` is the fence: it only grows per resource, so whatever the lease protects can
    reject a writer whose token is older than one it has already seen. `expires_at` is
    the MongoDB server's clock, never this process's.
    """

    model_config = ConfigDict(frozen=True)

    resource: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    token: int = Field(ge=1)
    expires_at: AwareDatetime

    @field_validator("expires_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class LeaseHoldersInput(BaseModel):
    resource: str = Field(min_length=1)
