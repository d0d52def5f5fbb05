"""Options several commands share: where a server runs and what it is (`provision`,
`claim`, `pool start`) and the one rule that fills them in, `--json`, and a claim's
`--ttl`."""

from __future__ import annotations

from typing import Annotated

import typer

from client.errors import InvalidRequest
from core.settings import Settings
from providers import DEFAULT_PROVIDER, PROVIDER_IDS

__all__ = [
    "MAX_TTL_SECONDS",
    "ImageOption",
    "JsonFlag",
    "OsIdOption",
    "PlanOption",
    "ProviderOption",
    "RegionOption",
    "ServerKind",
    "TtlOption",
    "server_kind",
]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
# A claim is renewed by its job; one that outlives a day is a mistake, not a plan.
MAX_TTL_SECONDS = 86_400
TtlOption = Annotated[
    int,
    typer.Option(
        "--ttl",
        min=5,
        max=MAX_TTL_SECONDS,
        help=f"Seconds the claim lasts unless renewed (heartbeat), 5 to {MAX_TTL_SECONDS} (a day).",
    ),
]

ProviderOption = Annotated[str, typer.Option(help=f"Cloud provider: {', '.join(PROVIDER_IDS)}.")]
RegionOption = Annotated[
    str | None,
    typer.Option(
        help="Vultr: region id (ewr, ams...); Hetzner: location (fsn1, nbg1, hel1...); "
        "DigitalOcean: region slug (nyc3...). [default, Vultr only: DEFAULT_REGION or ewr]"
    ),
]
PlanOption = Annotated[
    str | None,
    typer.Option(
        help="Vultr: plan id (vc2-1c-1gb...); Hetzner: server type (cx22...); "
        "DigitalOcean: size slug (s-1vcpu-1gb...). "
        "[default, Vultr only: DEFAULT_PLAN or vc2-1c-1gb]"
    ),
]
ImageOption = Annotated[
    str | None,
    typer.Option(
        help="OS image. Vultr: OS id (2284...); Hetzner: image name or id "
        "(ubuntu-24.04...); DigitalOcean: image slug or id (ubuntu-24-04-x64...). "
        "[default, Vultr only: DEFAULT_OS_ID or 2284]"
    ),
]
OsIdOption = Annotated[
    int | None,
    typer.Option("--os-id", help="Numeric image id (Vultr's OS id); --image is the same."),
]

ServerKind = tuple[str, str, int | None, str | None]  # region, plan, os_id, image


def server_kind(
    settings: Settings,
    provider: str,
    region: str | None,
    plan: str | None,
    image: str | None,
    os_id: int | None,
) -> ServerKind:
    """Region, plan and image as given, the DEFAULT_* settings filling in for Vultr (they
    are Vultr's); raises InvalidRequest when a value is given twice or missing."""
    if provider not in PROVIDER_IDS:
        raise InvalidRequest(f"unknown provider {provider!r} (known: {', '.join(PROVIDER_IDS)})")
    if image is not None and os_id is not None:
        raise InvalidRequest("give the image once: --image or --os-id, not both")
    if provider == DEFAULT_PROVIDER:
        if image is None and os_id is None:
            os_id = settings.default_os_id
        return region or settings.default_region, plan or settings.default_plan, os_id, image
    given = {"--region": region, "--plan": plan, "--image": image or os_id}
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise InvalidRequest(
            f"--provider {provider} needs {', '.join(missing)} (DEFAULT_REGION, DEFAULT_PLAN "
            f"and DEFAULT_OS_ID are {DEFAULT_PROVIDER}'s); see --help for the values"
        )
    assert region is not None and plan is not None
    return region, plan, os_id, image
