"""Validation of create requests before they are sent."""

from __future__ import annotations

import pytest

from providers.vultr import (
    Catalog,
    CreateInstanceRequest,
    OperatingSystem,
    Plan,
    Region,
    VultrValidationError,
    validate_create_request,
)

CATALOG = Catalog.build(
    regions=[Region(id="ewr"), Region(id="ams"), Region(id="sao")],
    plans=[
        Plan(id="vc2-1c-1gb", monthly_cost=5, locations=["ewr", "ams"]),
        Plan(id="vhf-1c-1gb", monthly_cost=6, locations=["ams"]),
    ],
    os=[OperatingSystem(id=2284, name="Ubuntu 24.04 LTS x64")],
)


def request(**overrides: object) -> CreateInstanceRequest:
    fields: dict[str, object] = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284}
    fields.update(overrides)
    return CreateInstanceRequest(**fields)  # type: ignore[arg-type]


def test_a_request_that_fits_the_catalog_passes_unchanged() -> None:
    original = request(label="server-a", tags=["t"])
    assert validate_create_request(original, CATALOG) == original


def test_an_unknown_region_is_refused_with_the_known_ones_named() -> None:
    with pytest.raises(
        VultrValidationError, match=r"unknown region 'xyz' \(known: ams, ewr, sao\)"
    ):
        validate_create_request(request(region="xyz"), CATALOG)


def test_an_unknown_plan_is_refused() -> None:
    with pytest.raises(VultrValidationError, match="unknown plan 'vc9-huge'"):
        validate_create_request(request(plan="vc9-huge"), CATALOG)


def test_a_plan_not_offered_in_the_region_is_refused_with_where_it_is() -> None:
    with pytest.raises(
        VultrValidationError,
        match=r"plan 'vhf-1c-1gb' is not available in region 'ewr' \(available in: ams\)",
    ):
        validate_create_request(request(plan="vhf-1c-1gb"), CATALOG)


def test_an_unknown_os_id_is_refused() -> None:
    with pytest.raises(VultrValidationError, match="unknown os_id 9999"):
        validate_create_request(request(os_id=9999), CATALOG)


def test_every_catalog_problem_is_reported_at_once() -> None:
    with pytest.raises(VultrValidationError) as caught:
        validate_create_request(request(region="xyz", plan="nope", os_id=1), CATALOG)
    assert len(caught.value.problems) == 3


def test_without_a_catalog_only_the_request_rules_apply() -> None:
    unknown_everywhere = request(region="xyz", plan="nope", os_id=1)
    assert validate_create_request(unknown_everywhere) == unknown_everywhere


def test_a_mapping_is_validated_into_a_request() -> None:
    checked = validate_create_request({"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284})
    assert isinstance(checked, CreateInstanceRequest)


def test_a_mapping_with_non_string_tags_raises_a_validation_error_naming_the_field() -> None:
    with pytest.raises(VultrValidationError, match=r"tags\.0"):
        validate_create_request({"region": "ewr", "plan": "p", "os_id": 1, "tags": [7]})


def test_a_request_built_without_validation_is_checked_again() -> None:
    unchecked = CreateInstanceRequest.model_construct(
        region="ewr", plan="vc2-1c-1gb", os_id=2284, user_data="x" * (64 * 1024 + 1)
    )
    with pytest.raises(VultrValidationError, match="user_data"):
        validate_create_request(unchecked)


def test_a_validation_error_is_non_retryable_and_has_no_status() -> None:
    with pytest.raises(VultrValidationError) as caught:
        validate_create_request(request(region="xyz"), CATALOG)
    error = caught.value
    assert (error.status, error.retryable, error.non_retryable) == (None, False, True)
    assert error.type == "VultrValidationError"
    assert "not sent to Vultr" in str(error)
