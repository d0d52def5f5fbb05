"""How long a MongoDB call between a deadline and its delete may wait, from the margin."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.policies import deadline_mongo_wait


@pytest.mark.parametrize(
    ("margin", "wait"),
    [
        (60, 10.0),  # the production margin: the 10 s cap
        (120, 10.0),  # a longer margin never waits longer
        (20, 5.0),  # a quarter of the margin
        (5, 1.25),  # the test fleets' margin
        (0, 1.0),  # no margin: still one ask
    ],
)
def test_the_wait_is_a_quarter_of_the_margin_within_1_to_10_s(margin, wait):
    assert deadline_mongo_wait(timedelta(seconds=margin)) == timedelta(seconds=wait)
