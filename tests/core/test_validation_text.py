"""The one wording of pydantic's problems that refusals of bad input share."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from core.validation import validation_problems


class Inner(BaseModel):
    region: str

    @field_validator("region")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != "ewr":
            raise ValueError(f"unknown region {value!r}")
        return value


class Outer(BaseModel):
    spec: Inner
    count: int


def problems(**data: object) -> list[str]:
    with pytest.raises(ValidationError) as err:
        Outer.model_validate(data)
    return validation_problems(err.value)


def test_each_problem_names_its_field_without_pydantics_prefix():
    assert problems(spec={"region": "mars"}, count="x") == [
        "spec.region: unknown region 'mars'",
        "count: Input should be a valid integer, unable to parse string as an integer",
    ]


def test_a_caller_names_the_field_its_own_way():
    with pytest.raises(ValidationError) as err:
        Outer.model_validate({"spec": {"region": "ewr"}, "count": None})
    named = validation_problems(err.value, where=lambda loc: "_".join(map(str, loc)).upper())
    assert named == ["COUNT: Input should be a valid integer"]
