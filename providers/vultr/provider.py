"""Vultr behind the `providers.base.Provider` protocol: the client's calls, the
ownership tags, the readiness rule and the billing model in one adapter."""

from __future__ import annotations

from core import billing
from core.models import ServerSpec
from core.naming import MANAGED_TAG, instance_label, instance_tag, owner_of
from core.settings import Settings
from providers.base import BillingModel, Instance, Owned, Quote
from providers.ownership import split_owned
from providers.vultr.catalog import validate_create_request
from providers.vultr.client import VultrClient
from providers.vultr.errors import VultrNotFound, VultrValidationError
from providers.vultr.models import CreateInstanceRequest
from providers.vultr.models import Instance as VultrInstance

__all__ = ["VultrProvider", "vultr_billing_model"]


def vultr_billing_model(plan_id: str, period_seconds: float = 3600) -> BillingModel:
    """Every started hour from deploy, capped per calendar month (672 h, GPU 730 h)."""
    return BillingModel.hourly(
        monthly_cap_hours=billing.month_cap(plan_id), period_seconds=period_seconds
    )


def vultr_os_id(spec: ServerSpec) -> int:
    """Vultr's image is an OS id: `os_id`, or `image` when it is a number."""
    if spec.os_id is not None:
        return spec.os_id
    ref = spec.image_ref
    if not ref.isdigit() or int(ref) == 0:
        raise VultrValidationError([f"image {ref!r} is not a Vultr OS id (a number such as 2284)"])
    return int(ref)


def as_instance(found: VultrInstance) -> Instance:
    return Instance(
        id=found.id,
        name=found.label,
        region=found.region,
        plan=found.plan,
        image=str(found.os_id) if found.os_id else "",
        status=f"{found.status}/{found.power_status}/{found.server_status}",
        ready=found.is_ready,
        created=found.date_created,
        ip=found.main_ip if found.main_ip and found.main_ip != "0.0.0.0" else None,
        tags=tuple(found.tags),
    )


def _oldest_first(instances: list[Instance]) -> list[Instance]:
    return sorted(instances, key=lambda i: (i.created is None, i.created or 0, i.id))  # type: ignore[operator]


class VultrProvider:
    """`period_seconds` shortens the billed hour for demos and tests (the emulator's)."""

    id = "vultr"

    def __init__(self, client: VultrClient, *, period_seconds: float = 3600) -> None:
        self._client = client
        self._period_seconds = period_seconds

    @classmethod
    def from_settings(cls, client: VultrClient, settings: Settings) -> VultrProvider:
        return cls(client, period_seconds=settings.billing_period_seconds)

    def billing_model(self, plan_id: str) -> BillingModel:
        return vultr_billing_model(plan_id, self._period_seconds)

    async def quote(self, spec: ServerSpec) -> Quote:
        catalog = await self._client.load_catalog()
        validate_create_request(
            {
                "region": spec.region,
                "plan": spec.plan,
                "os_id": vultr_os_id(spec),
                "tags": list(spec.tags),
                "sshkey_id": list(spec.ssh_key_ids),
                "user_data": spec.cloud_init,
            },
            catalog,
        )
        plan = catalog.plans[spec.plan]
        return Quote(
            plan=plan.id,
            hourly_price=billing.hourly_price(plan.monthly_cost, plan.id),
            monthly_price=plan.monthly_cost,
            billing=self.billing_model(plan.id),
        )

    async def create(self, spec: ServerSpec, *, owner: str, hostname: str) -> Instance:
        created = await self._client.create_instance(
            CreateInstanceRequest(
                region=spec.region,
                plan=spec.plan,
                os_id=vultr_os_id(spec),
                label=instance_label(owner),
                hostname=hostname,
                tags=[MANAGED_TAG, instance_tag(owner), *spec.tags],
                sshkey_id=list(spec.ssh_key_ids),
                user_data=spec.cloud_init,
            )
        )
        return as_instance(created)

    async def find(self, owner: str) -> list[Instance]:
        # The tag filter only narrows the listing (the spec deprecates it).
        listed = await self._client.list_instances(tag=instance_tag(owner))
        return _oldest_first([as_instance(i) for i in listed if owner_of(i.tags) == owner])

    async def get(self, instance_id: str) -> Instance | None:
        try:
            return as_instance(await self._client.get_instance(instance_id))
        except VultrNotFound:
            return None

    async def delete(self, instance_id: str) -> bool:
        return await self._client.delete_instance(instance_id)

    async def list_owned(self) -> Owned:
        listed = await self._client.list_instances(tag=MANAGED_TAG)
        return split_owned((as_instance(i) for i in listed), _oldest_first)
