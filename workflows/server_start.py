"""How a ServerWorkflow is started, by a client or by a parent workflow: its id, id
reuse, search attributes and web-UI summary. Pure, so workflows can use it."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from core.lifecycle import ServerState
from core.models import PolicyOverrides, ServerInput, ServerPolicy, ServerSpec
from workflows.search_attributes import NAME_KEY, PLAN_KEY, PROVIDER_KEY, REGION_KEY, STATE_KEY

__all__ = ["describe_spec", "server_start_options"]


def describe_spec(
    name: str, spec: ServerSpec, policy: ServerPolicy | PolicyOverrides
) -> tuple[str, str]:
    """The workflow's static summary and details, as the web UI shows them."""
    summary = f"{spec.region} {spec.plan}: {name}"
    lines = [
        f"**Server** `{name}`",
        f"- region `{spec.region}`, plan `{spec.plan}`, image `{spec.image_ref}`",
        f"- tags: {', '.join(spec.tags) or 'none'}",
        f"- ssh keys: {', '.join(spec.ssh_key_ids) or 'none'}",
        f"- cloud-init: {len(spec.cloud_init.encode()) if spec.cloud_init else 0} bytes",
    ]
    if isinstance(policy, PolicyOverrides):
        # The rest is the worker's: it resolves the policy when the server starts.
        chosen = policy.model_dump(exclude_none=True)
        lines.append(
            "- policy: the worker's defaults"
            + "".join(f", {key.removesuffix('_seconds')} {value}" for key, value in chosen.items())
        )
        return summary, "\n".join(lines)
    lines += [
        f"- billing period {policy.billing_period_seconds} s, terminate "
        f"{policy.terminate_before_seconds} s before each boundary when idle"
        if policy.terminate_idle_at_deadline
        else f"- billing period {policy.billing_period_seconds} s, idle servers kept "
        "past deadlines",
        f"- readiness timeout {policy.readiness_timeout_seconds} s",
    ]
    if policy.max_lifetime_seconds:
        lines.append(f"- max lifetime {policy.max_lifetime_seconds} s")
    if policy.max_idle_seconds:
        lines.append(f"- max idle {policy.max_idle_seconds} s")
    return summary, "\n".join(lines)


def server_start_options(inp: ServerInput, summary: str | None = None) -> dict[str, Any]:
    """The options every start of a server workflow shares (client starts add their task
    queue and conflict policy; a parent's child inherits its queue)."""
    spec = inp.spec
    default_summary, details = describe_spec(inp.name, spec, inp.policy or inp.overrides)
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(NAME_KEY, inp.name),
            SearchAttributePair(PROVIDER_KEY, spec.provider),
            SearchAttributePair(REGION_KEY, spec.region),
            SearchAttributePair(PLAN_KEY, spec.plan),
            SearchAttributePair(STATE_KEY, ServerState.PROVISIONING.value),
        ]
    )
    return {
        "id": inp.workflow_id,
        # A name is free again once its server's workflow has ended, however.
        "id_reuse_policy": WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        "search_attributes": attributes,
        "static_summary": summary or default_summary,
        "static_details": details,
    }
