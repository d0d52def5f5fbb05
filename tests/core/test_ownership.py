"""What marks an instance as ours: the managed tag and exactly one valid workflow tag."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.models import ServerSpec
from core.naming import MANAGED_TAG, instance_tag, owner_of


def test_an_instance_with_both_of_our_tags_belongs_to_its_workflow():
    assert owner_of([MANAGED_TAG, instance_tag("server-web-1"), "team:ci"]) == "server-web-1"


@pytest.mark.parametrize(
    "tags",
    [
        [],
        ["team:ci"],
        [MANAGED_TAG],  # managed, but no workflow named
        [instance_tag("server-web-1")],  # a workflow tag without the managed tag
        [MANAGED_TAG, "workflow:"],
        [MANAGED_TAG, instance_tag("web-1")],  # not a server workflow id
        [MANAGED_TAG, instance_tag("server-Bad_Name")],
        [MANAGED_TAG, instance_tag("server-a"), instance_tag("server-b")],  # ambiguous
        ["managed-by:other-tool", instance_tag("server-web-1")],
    ],
)
def test_anything_else_is_not_ours(tags):
    assert owner_of(tags) is None


@pytest.mark.parametrize("tag", [MANAGED_TAG, "managed-by:x", instance_tag("server-other")])
def test_a_server_spec_refuses_the_tags_that_mark_ownership(tag):
    with pytest.raises(ValidationError, match="mark what this tool owns"):
        ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284, tags=[tag])
