"""`python -m emulator --provider hetzner ...`: the Hetzner face's flags."""

from __future__ import annotations

from pydantic import ValidationError

from emulator.core.cli import common_options, common_parser
from emulator.hetzner.config import HetznerConfig
from emulator.hetzner.routes import ROUTES

__all__ = ["parse_args"]


def parse_args(argv: list[str] | None = None) -> HetznerConfig:
    parser = common_parser("Serve the Hetzner Cloud API v1 emulator.", ROUTES)
    parser.add_argument(
        "--boot-seconds",
        type=float,
        default=15.0,
        help="time from create to running: 40%% initializing, then starting (default 15)",
    )
    parser.add_argument(
        "--delete-seconds",
        type=float,
        default=5.0,
        help="time a deleted server shows as deleting before it is gone (default 5)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=3600,
        help="requests per project in a full bucket before 429; 0 disables (default 3600)",
    )
    parser.add_argument(
        "--rate-limit-refill-per-second",
        type=float,
        default=1.0,
        help="requests the bucket regains per second (default 1)",
    )
    parser.add_argument(
        "--server-limit",
        type=int,
        default=0,
        help="live servers per project before resource_limit_exceeded; 0: no limit",
    )
    args = parser.parse_args(argv)
    options = {
        **common_options(args),
        "boot_seconds": args.boot_seconds,
        "delete_seconds": args.delete_seconds,
        "rate_limit": args.rate_limit,
        "rate_limit_refill_per_second": args.rate_limit_refill_per_second,
        "server_limit": args.server_limit,
    }
    try:
        return HetznerConfig.model_validate(options)
    except ValidationError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
