"""Async Vultr API v2 client: typed models, classified errors, pre-send validation."""

from providers.vultr.catalog import Catalog, validate_create_request
from providers.vultr.client import DEFAULT_BASE_URL, MAX_PER_PAGE, VultrClient
from providers.vultr.errors import (
    VultrAuthError,
    VultrBadRequest,
    VultrError,
    VultrNotFound,
    VultrProtocolError,
    VultrRateLimited,
    VultrServerError,
    VultrTransportError,
    VultrValidationError,
    parse_retry_after,
)
from providers.vultr.models import (
    MAX_LABEL_LENGTH,
    MAX_TAG_LENGTH,
    MAX_USER_DATA_BYTES,
    Account,
    CreateInstanceRequest,
    Instance,
    OperatingSystem,
    PendingCharge,
    Plan,
    Region,
    V6Network,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_LABEL_LENGTH",
    "MAX_PER_PAGE",
    "MAX_TAG_LENGTH",
    "MAX_USER_DATA_BYTES",
    "Account",
    "Catalog",
    "CreateInstanceRequest",
    "Instance",
    "OperatingSystem",
    "PendingCharge",
    "Plan",
    "Region",
    "V6Network",
    "VultrAuthError",
    "VultrBadRequest",
    "VultrClient",
    "VultrError",
    "VultrNotFound",
    "VultrProtocolError",
    "VultrRateLimited",
    "VultrServerError",
    "VultrTransportError",
    "VultrValidationError",
    "parse_retry_after",
    "validate_create_request",
]
