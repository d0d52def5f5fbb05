"""`python -m emulator [--provider vultr] ...`: the Vultr face's flags."""

from __future__ import annotations

from pydantic import ValidationError

from emulator.core.cli import common_options, common_parser
from emulator.vultr.config import EmulatorConfig
from emulator.vultr.routes import ROUTES

__all__ = ["parse_args"]


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    parser = common_parser("Serve the Vultr API v2 emulator.", ROUTES)
    parser.add_argument(
        "--boot-seconds",
        type=float,
        default=58.0,
        help="time from create to active/running/ok (default 58)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=30,
        help="requests per second per client IP before 429; 0 disables",
    )
    parser.add_argument(
        "--get-404-seconds",
        type=float,
        default=0.0,
        help="GET /v2/instances/{id} answers 404 this long after a create",
    )
    args = parser.parse_args(argv)
    options = {
        **common_options(args),
        "boot_seconds": args.boot_seconds,
        "rate_limit": args.rate_limit,
        "get_404_seconds": args.get_404_seconds,
    }
    try:
        return EmulatorConfig.model_validate(options)
    except ValidationError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
