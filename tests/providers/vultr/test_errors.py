"""The error hierarchy and Retry-After parsing."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from providers.errors import NON_RETRYABLE_ERROR_TYPES
from providers.vultr import (
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

NOW = datetime(2025, 1, 6, 12, 0, 0, tzinfo=UTC)

ALL_ERRORS = [
    VultrError,
    VultrValidationError,
    VultrBadRequest,
    VultrAuthError,
    VultrNotFound,
    VultrRateLimited,
    VultrServerError,
    VultrTransportError,
    VultrProtocolError,
]


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_each_error_type_string_is_its_class_name(cls: type[VultrError]) -> None:
    # Temporal retry policies match on these strings; renaming one silently breaks them.
    assert cls.type == cls.__name__


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (VultrBadRequest, False),
        (VultrAuthError, False),
        (VultrNotFound, False),
        (VultrProtocolError, False),
        (VultrRateLimited, True),
        (VultrServerError, True),
        (VultrTransportError, True),
    ],
)
def test_retryability_defaults_by_kind(cls: type[VultrError], retryable: bool) -> None:
    error = cls("x")
    assert error.retryable is retryable
    assert error.non_retryable is (not retryable)


def test_retryability_can_be_overridden_per_error() -> None:
    assert VultrTransportError("bad url", retryable=False).non_retryable is True


def test_non_retryable_kinds_are_the_ones_no_retry_can_fix() -> None:
    assert set(NON_RETRYABLE_ERROR_TYPES) == {
        "ProviderValidationError",
        "ProviderBadRequest",
        "ProviderAuthError",
        "ProviderNotFound",
        "ProviderQuotaExceeded",
    }
    kinds = [
        VultrValidationError(["x"]).kind(),
        VultrNotFound("x").kind(),
        VultrServerError("x").kind(),
        VultrError("x").kind(),
    ]
    assert kinds == [
        "ProviderValidationError",
        "ProviderNotFound",
        "ProviderServerError",
        "ProviderError",
    ]


def test_a_locked_delete_is_recognisable() -> None:
    locked = VultrServerError(
        "x",
        status=500,
        error_text="Unable to destroy server: Unable to remove VM: Server is currently locked",
    )
    assert locked.is_locked is True
    assert VultrServerError("x", status=500, error_text="Internal error").is_locked is False


def test_errors_survive_pickling_with_their_attributes() -> None:
    original = VultrRateLimited("slow down", status=429, retry_after=2.0, method="GET", path="/x")
    copy = pickle.loads(pickle.dumps(original))
    assert (type(copy), str(copy), copy.retry_after, copy.status) == (
        VultrRateLimited,
        "slow down",
        2.0,
        429,
    )
    problems = pickle.loads(pickle.dumps(VultrValidationError(["a", "b"])))
    assert problems.problems == ["a", "b"]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("Mon, 06 Jan 2025 12:00:30 GMT", 30.0),
        ("Mon, 06 Jan 2025 11:59:00 GMT", 0.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_http_date(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "soon", "nan", "inf", "Mon, 99 Foo 2025"])
def test_retry_after_that_cannot_be_read_is_none(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_every_vultr_error_is_its_provider_neutral_kind():
    from providers import errors as common
    from providers import vultr

    kinds = {
        vultr.VultrValidationError: common.ProviderValidationError,
        vultr.VultrBadRequest: common.ProviderBadRequest,
        vultr.VultrAuthError: common.ProviderAuthError,
        vultr.VultrNotFound: common.ProviderNotFound,
        vultr.VultrRateLimited: common.ProviderRateLimited,
        vultr.VultrServerError: common.ProviderServerError,
        vultr.VultrTransportError: common.ProviderTransportError,
        vultr.VultrProtocolError: common.ProviderProtocolError,
    }
    for vultr_kind, kind in kinds.items():
        assert issubclass(vultr_kind, kind) and issubclass(vultr_kind, vultr.VultrError)
        # Retryability follows the kind, so a retry policy needs no provider knowledge.
        assert vultr_kind.default_retryable == kind.default_retryable
    refused = vultr.VultrValidationError(["unknown region 'xxx'"])
    assert str(refused).startswith("invalid create request, not sent to Vultr: unknown region")
