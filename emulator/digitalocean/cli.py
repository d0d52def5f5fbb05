"""`python -m emulator --provider digitalocean ...`: the DigitalOcean face's flags."""

from __future__ import annotations

from pydantic import ValidationError

from emulator.core.cli import common_options, common_parser
from emulator.digitalocean.config import DigitalOceanConfig
from emulator.digitalocean.routes import ROUTES

__all__ = ["parse_args"]


def parse_args(argv: list[str] | None = None) -> DigitalOceanConfig:
    parser = common_parser("Serve the DigitalOcean API v2 emulator.", ROUTES)
    parser.add_argument(
        "--boot-seconds",
        type=float,
        default=30.0,
        help="time from create to status active (default 30)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=250,
        help="requests per minute per token before 429 (default 250); 0 disables",
    )
    parser.add_argument(
        "--rate-limit-hourly",
        type=int,
        default=5000,
        help="requests per hour per token before 429 (default 5000); 0 disables",
    )
    args = parser.parse_args(argv)
    options = {
        **common_options(args),
        "boot_seconds": args.boot_seconds,
        "rate_limit": args.rate_limit,
        "rate_limit_hourly": args.rate_limit_hourly,
    }
    try:
        return DigitalOceanConfig.model_validate(options)
    except ValidationError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
