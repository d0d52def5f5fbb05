"""DigitalOcean behind the `providers.base.Provider` protocol: the client's calls, the
ownership tags, the readiness rule (`status == active`) and the billing model."""

from __future__ import annotations

from core.models import ServerSpec
from core.naming import MANAGED_TAG, instance_label, instance_tag, owner_of
from providers.base import BillingModel, Instance, Owned, Quote
from providers.digitalocean.catalog import check_create
from providers.digitalocean.client import DigitalOceanClient
from providers.digitalocean.models import Droplet
from providers.errors import ProviderNotFound
from providers.ownership import split_owned

__all__ = ["DEFAULT_MONTHLY_CAP_HOURS", "DigitalOceanProvider", "digitalocean_billing_model"]

READY_STATUS = "active"
DEFAULT_MONTHLY_CAP_HOURS = 672.0


def digitalocean_billing_model(
    monthly_cap_hours: float = DEFAULT_MONTHLY_CAP_HOURS,
) -> BillingModel:
    """Every second from `created_at`, at least 60 s and $0.01, a calendar month at most
    `monthly_cap_hours` at the hourly price (the monthly price, at the default 672)."""
    return BillingModel(
        period_seconds=1,
        minimum_seconds=60,
        minimum_charge=0.01,
        monthly_cap_hours=monthly_cap_hours,
    )


def as_instance(droplet: Droplet) -> Instance:
    return Instance(
        id=str(droplet.id),
        name=droplet.name,
        region=droplet.region.slug,
        plan=droplet.size_slug,
        # The image id, which is what `spec.os_id` names: reconciliation adopts from it.
        image=str(droplet.image.id) if droplet.image.id else (droplet.image.slug or ""),
        status=droplet.status,
        ready=droplet.status == READY_STATUS,
        created=droplet.created_at,
        ip=droplet.public_ipv4,
        tags=tuple(droplet.tags),
    )


def _oldest_first(instances: list[Instance]) -> list[Instance]:
    return sorted(instances, key=lambda i: (i.created is None, i.created or 0, int(i.id)))  # type: ignore[operator]


class DigitalOceanProvider:
    """`spec.plan` is the size slug, `spec.region` the region slug and `spec.image_ref` the
    image (slug or id); `monthly_cap_hours` is DIGITALOCEAN_MONTHLY_CAP_HOURS."""

    id = "digitalocean"

    def __init__(
        self, client: DigitalOceanClient, *, monthly_cap_hours: float = DEFAULT_MONTHLY_CAP_HOURS
    ) -> None:
        self._client = client
        self._cap_hours = monthly_cap_hours

    def billing_model(self) -> BillingModel:
        return digitalocean_billing_model(self._cap_hours)

    async def quote(self, spec: ServerSpec) -> Quote:
        catalog = await self._client.load_catalog()
        check_create(
            catalog,
            name="quote",
            region=spec.region,
            size=spec.plan,
            image=_image(spec),
            tags=spec.tags,
            user_data=spec.cloud_init,
        )
        size = catalog.sizes[spec.plan]
        return Quote(
            plan=size.slug,
            hourly_price=size.price_monthly / self._cap_hours,
            monthly_price=size.price_monthly,
            billing=self.billing_model(),
        )

    async def create(self, spec: ServerSpec, *, owner: str, hostname: str) -> Instance:
        # The droplet's name is its hostname; the workflow id lives in its tag.
        created = await self._client.create_droplet(
            name=hostname or instance_label(owner),
            region=spec.region,
            size=spec.plan,
            image=_image(spec),
            tags=[MANAGED_TAG, instance_tag(owner), *spec.tags],
            user_data=spec.cloud_init,
            ssh_keys=list(spec.ssh_key_ids),
        )
        return as_instance(created)

    async def find(self, owner: str) -> list[Instance]:
        # The tag filter only narrows the listing; ownership is decided on each droplet.
        listed = await self._client.list_droplets(tag_name=instance_tag(owner))
        return _oldest_first([as_instance(d) for d in listed if owner_of(d.tags) == owner])

    async def get(self, instance_id: str) -> Instance | None:
        try:
            return as_instance(await self._client.get_droplet(instance_id))
        except ProviderNotFound:
            return None

    async def delete(self, instance_id: str) -> bool:
        return await self._client.delete_droplet(instance_id)

    async def list_owned(self) -> Owned:
        listed = await self._client.list_droplets(tag_name=MANAGED_TAG)
        return split_owned((as_instance(d) for d in listed), _oldest_first)


def _image(spec: ServerSpec) -> str | int:
    """The image as DigitalOcean's API takes it: an id as a number, else a slug."""
    ref = spec.image_ref
    return int(ref) if ref.isdigit() else ref
