"""Hetzner Cloud behind the `providers.base.Provider` protocol: the client's calls, the
ownership labels, the readiness rule and the billing model in one adapter.

Ownership: labels `managed-by=vultr-lifecycle` and `workflow=<workflow id>`, and the
server's name is the workflow id, which Hetzner keeps unique per project, so a create
that meets its own earlier (lost) create is resolved by lookup, never by a second server.
`ServerSpec` maps as: region -> location, plan -> server type, image -> image name or id.
"""

from __future__ import annotations

from core.models import ServerSpec
from core.naming import MANAGED_TAG, instance_tag, owner_of
from providers.base import BillingModel, Instance, Owned, Quote
from providers.hetzner.client import HetznerClient
from providers.hetzner.errors import (
    HetznerBadRequest,
    HetznerNotFound,
    HetznerServerError,
    HetznerValidationError,
)
from providers.hetzner.labels import labels_from_tags, selector, tags_from_labels
from providers.hetzner.models import CreateServerRequest, Server
from providers.ownership import split_owned

__all__ = ["READY_STATUS", "HetznerProvider", "as_instance", "hetzner_billing_model"]

READY_STATUS = "running"
_MANAGED = labels_from_tags([MANAGED_TAG])


def hetzner_billing_model(
    hourly: float, monthly: float, period_seconds: float = 3600
) -> BillingModel:
    """Every started hour from creation, a calendar month capped at the monthly price."""
    return BillingModel.hourly(monthly_cap_hours=monthly / hourly, period_seconds=period_seconds)


def as_instance(server: Server) -> Instance:
    return Instance(
        id=str(server.id),
        name=server.name,
        region=server.location,
        plan=server.server_type.name,
        image=str(server.image.id) if server.image else "",
        status=server.status,
        ready=server.status == READY_STATUS,
        created=server.created,
        ip=server.ipv4,
        tags=tags_from_labels(server.labels),
    )


def _ownership(owner: str) -> dict[str, str]:
    return {**_MANAGED, **labels_from_tags([instance_tag(owner)])}


def _oldest_first(instances: list[Instance]) -> list[Instance]:
    return sorted(instances, key=lambda i: (i.created is None, i.created or 0, int(i.id)))  # type: ignore[operator]


class HetznerProvider:
    """`period_seconds` shortens the billed hour for demos and tests (the emulator's)."""

    id = "hetzner"

    def __init__(self, client: HetznerClient, *, period_seconds: float = 3600) -> None:
        self._client = client
        self._period_seconds = period_seconds

    async def quote(self, spec: ServerSpec) -> Quote:
        catalog = await self._client.load_catalog()
        problems = catalog.problems(spec.plan, spec.region, spec.image_ref)
        if problems:
            raise HetznerValidationError(problems)
        price = catalog.server_types[spec.plan].price_in(spec.region)
        assert price is not None  # problems() checked it is sold there
        hourly, monthly = float(price.price_hourly.net), float(price.price_monthly.net)
        return Quote(
            plan=spec.plan,
            hourly_price=hourly,
            monthly_price=monthly,
            billing=hetzner_billing_model(hourly, monthly, self._period_seconds),
        )

    async def create(self, spec: ServerSpec, *, owner: str, hostname: str) -> Instance:
        # The name is the workflow id (Hetzner's name is the hostname too; `hostname` is
        # the Vultr-side one and not needed here).
        request = CreateServerRequest(
            name=owner,
            server_type=spec.plan,
            image=spec.image_ref,
            location=spec.region,
            labels={**labels_from_tags(spec.tags), **_ownership(owner)},
            user_data=spec.cloud_init,
            ssh_keys=list(spec.ssh_key_ids),
        )
        await self._client.load_catalog()
        try:
            return as_instance(await self._client.create_server(request))
        except HetznerBadRequest as exc:
            if exc.code != "uniqueness_error":
                raise
            taken = exc
        existing = await self._client.list_servers(name=owner)
        ours = [
            s for s in existing if s.name == owner and owner_of(tags_from_labels(s.labels)) == owner
        ]
        if ours:
            return as_instance(ours[0])  # our own earlier create, whose answer was lost
        raise HetznerBadRequest(
            f"a server named {owner!r} already exists in this Hetzner project and is not "
            "ours (it lacks our ownership labels); rename or delete it, nothing was created",
            status=taken.status,
            error_text=taken.error_text,
            method=taken.method,
            path=taken.path,
        )

    async def find(self, owner: str) -> list[Instance]:
        # The selector only narrows the listing; each server's labels decide.
        listed = await self._client.list_servers(label_selector=selector(_ownership(owner)))
        found = [as_instance(s) for s in listed]
        return _oldest_first([i for i in found if owner_of(i.tags) == owner])

    async def get(self, instance_id: str) -> Instance | None:
        try:
            return as_instance(await self._client.get_server(instance_id))
        except HetznerNotFound:
            return None

    async def delete(self, instance_id: str) -> bool:
        try:
            return await self._client.delete_server(instance_id)
        except HetznerServerError as exc:
            if exc.code != "locked":
                raise
            # Locked by its own delete action: the delete is already under way.
            current = await self.get(instance_id)
            if current is None:
                return False
            if current.status == "deleting":
                return True
            raise

    async def list_owned(self) -> Owned:
        listed = await self._client.list_servers(label_selector=selector(_MANAGED))
        return split_owned((as_instance(s) for s in listed), _oldest_first)
