"""Pydantic models of the Vultr API v2 objects the orchestrator uses.

Response models follow `components/schemas` of the official spec and accept what
the live API sends besides: unknown or newer fields are ignored, `null` means
"use the default", and dates become timezone-aware datetimes (UTC when the API
gives none). The one request model, `CreateInstanceRequest`, checks what can be
checked without a catalog and renders the exact body `POST /instances` expects.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictStr,
    field_validator,
    model_validator,
)

__all__ = [
    "MAX_LABEL_LENGTH",
    "MAX_TAG_LENGTH",
    "MAX_USER_DATA_BYTES",
    "Account",
    "CreateInstanceRequest",
    "Instance",
    "OperatingSystem",
    "PendingCharge",
    "Plan",
    "Region",
    "V6Network",
]

# Vultr refuses user data above 64 KiB once decoded from base64.
MAX_USER_DATA_BYTES = 64 * 1024
# The spec gives no maxLength; these bounds are conservative so an oversized value
# fails here, with a clear message, rather than as an opaque 400 mid-provisioning.
MAX_LABEL_LENGTH = 255
MAX_TAG_LENGTH = 255


def _parse_datetime(value: Any) -> Any:
    """ "" and None mean unknown; a naive time (invoice items use them) is UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())  # also takes "Z" and a space separator
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class _VultrObject(BaseModel):
    """A response object: unknown fields ignored, nulls replaced by defaults."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class V6Network(_VultrObject):
    network: str = ""
    main_ip: str = ""
    network_size: int = 0


class Instance(_VultrObject):
    """`components/schemas/instance`, plus fields newer API versions return."""

    id: str
    os: str = ""
    ram: int = 0
    disk: int = 0
    main_ip: str = ""
    vcpu_count: int = 0
    region: str = ""
    plan: str = ""
    date_created: datetime | None = None
    status: str = ""
    power_status: str = ""
    server_status: str = ""
    allowed_bandwidth: int = 0
    netmask_v4: str = ""
    gateway_v4: str = ""
    v6_networks: list[V6Network] = Field(default_factory=list)
    # The live API (and the spec's examples) send flat v6_* fields instead of the array.
    v6_network: str = ""
    v6_main_ip: str = ""
    v6_network_size: int = 0
    hostname: str = ""
    label: str = ""
    tag: str = ""
    internal_ip: str = ""
    kvm: str = ""
    os_id: int = 0
    app_id: int = 0
    image_id: str = ""
    snapshot_id: str = ""
    firewall_group_id: str = ""
    features: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    user_scheme: str = ""
    vpc_only: bool = False
    # Only in the create response. Excluded from dumps so it never reaches workflow
    # history, logs or Mongo; servers are reached with SSH keys.
    default_password: SecretStr | None = Field(default=None, exclude=True, repr=False)

    _parse_date = field_validator("date_created", mode="before")(_parse_datetime)

    @model_validator(mode="after")
    def _mirror_v6(self) -> Instance:
        # Fill whichever IPv6 form the API left out, so callers can read either.
        if not self.v6_networks and self.v6_network:
            self.v6_networks = [
                V6Network(
                    network=self.v6_network,
                    main_ip=self.v6_main_ip,
                    network_size=self.v6_network_size,
                )
            ]
        elif self.v6_networks and not self.v6_network:
            first = self.v6_networks[0]
            self.v6_network = first.network
            self.v6_main_ip = first.main_ip
            self.v6_network_size = first.network_size
        return self

    @property
    def is_ready(self) -> bool:
        """Booted and usable: active, running, and health ok."""
        return (
            self.status == "active"
            and self.power_status == "running"
            and self.server_status == "ok"
        )


class Region(_VultrObject):
    id: str
    city: str = ""
    country: str = ""
    continent: str = ""
    options: list[str] = Field(default_factory=list)


class Plan(_VultrObject):
    id: str
    name: str = ""
    vcpu_count: int = 0
    ram: int = 0
    disk: int = 0
    disk_count: int = 0
    bandwidth: int = 0
    # The spec says integer; live plans cost e.g. 2.5 a month.
    monthly_cost: float = 0.0
    hourly_cost: float | None = None
    type: str = ""
    locations: list[str] = Field(default_factory=list)
    invoice_type: str | None = None


class OperatingSystem(_VultrObject):
    id: int
    name: str = ""
    arch: str = ""
    family: str = ""


class Account(_VultrObject):
    name: str = ""
    email: str = ""
    acls: list[str] = Field(default_factory=list)
    balance: float = 0.0
    pending_charges: float = 0.0
    last_payment_date: datetime | None = None
    last_payment_amount: float = 0.0

    _parse_date = field_validator("last_payment_date", mode="before")(_parse_datetime)


class PendingCharge(_VultrObject):
    """One line of `GET /billing/pending-charges`, shaped like an invoice item."""

    description: str = ""
    product: str = ""
    start_date: datetime | None = None
    end_date: datetime | None = None
    units: float = 0.0
    unit_type: str = ""
    unit_price: float = 0.0
    total: float = 0.0

    _parse_dates = field_validator("start_date", "end_date", mode="before")(_parse_datetime)


class CreateInstanceRequest(BaseModel):
    """What to deploy. `user_data` is plain text; `api_body()` base64-encodes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: StrictStr = Field(min_length=1)
    plan: StrictStr = Field(min_length=1)
    os_id: int | None = None
    iso_id: str | None = None
    snapshot_id: str | None = None
    app_id: int | None = None
    image_id: str | None = None
    label: StrictStr = Field(default="", max_length=MAX_LABEL_LENGTH)
    hostname: StrictStr | None = None
    tags: list[StrictStr] = Field(default_factory=list)
    sshkey_id: list[StrictStr] = Field(default_factory=list)
    user_data: StrictStr | None = None
    script_id: str | None = None
    firewall_group_id: str | None = None
    enable_ipv6: bool | None = None
    disable_public_ipv4: bool | None = None
    backups: Literal["enabled", "disabled"] | None = None
    ddos_protection: bool | None = None
    activation_email: bool | None = None
    enable_vpc: bool | None = None
    attach_vpc: list[StrictStr] = Field(default_factory=list)
    user_scheme: Literal["root", "limited"] | None = None

    @field_validator("backups", mode="before")
    @classmethod
    def _backups_from_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "enabled" if value else "disabled"
        return value

    @field_validator("tags", "sshkey_id", "attach_vpc", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("tags")
    @classmethod
    def _tags_bounded(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not tag.strip():
                raise ValueError("tags must not be empty strings")
            if len(tag) > MAX_TAG_LENGTH:
                raise ValueError(f"tag {tag[:40]!r}... is longer than {MAX_TAG_LENGTH} characters")
        return tags

    @field_validator("user_data")
    @classmethod
    def _user_data_fits(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode("utf-8")) > MAX_USER_DATA_BYTES:
            raise ValueError(
                f"user_data is {len(value.encode('utf-8'))} bytes; Vultr accepts at most "
                f"{MAX_USER_DATA_BYTES} bytes (64 KiB) before base64 encoding"
            )
        return value

    @model_validator(mode="after")
    def _has_image(self) -> CreateInstanceRequest:
        sources = (self.os_id, self.iso_id, self.snapshot_id, self.app_id, self.image_id)
        if all(source is None for source in sources):
            raise ValueError(
                "one of os_id, iso_id, snapshot_id, app_id or image_id is required "
                "(Vultr needs something to install)"
            )
        return self

    def api_body(self) -> dict[str, Any]:
        """The JSON body for `POST /instances`: unset fields left out, user_data base64."""
        body = self.model_dump(exclude_none=True)
        for key in ("tags", "sshkey_id", "attach_vpc"):
            if not body.get(key):
                body.pop(key, None)
        if not body.get("label"):
            body.pop("label", None)
        if self.user_data is not None:
            body["user_data"] = base64.b64encode(self.user_data.encode("utf-8")).decode("ascii")
        return body
