"""`python -m emulator --port P ...`: serve the emulator with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from emulator.app import create_app
from emulator.config import EmulatorConfig
from emulator.faults import FaultConfig
from emulator.persistence import StateFileError
from emulator.routes import ROUTES

__all__ = ["main", "parse_args"]


def _faults(value: str) -> FaultConfig:
    """Inline JSON, or @path to a JSON file."""
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        config = FaultConfig.model_validate_json(text)
        config.check_routes(frozenset(ROUTES))
    except (ValidationError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"invalid --faults: {exc}") from exc
    return config


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--billing-period-seconds",
        type=float,
        default=3600.0,
        help="length of one billed hour (default 3600)",
    )
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
        "--seed", type=int, default=None, help="seed for ids and fault choices (default: random)"
    )
    parser.add_argument(
        "--api-key",
        # From the environment too, so the key need not show in the process table.
        default=os.environ.get("EMULATOR_API_KEY") or None,
        help="accept only this bearer token (default: $EMULATOR_API_KEY, else any non-empty token)",
    )
    parser.add_argument(
        "--get-404-seconds",
        type=float,
        default=0.0,
        help="GET /v2/instances/{id} answers 404 this long after a create",
    )
    parser.add_argument(
        "--faults", type=_faults, default=None, help="fault configuration as JSON, or @file.json"
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep instances and charges in this JSON file across restarts (default: memory only)",
    )
    args = parser.parse_args(argv)
    options = {
        "host": args.host,
        "port": args.port,
        "billing_period_seconds": args.billing_period_seconds,
        "boot_seconds": args.boot_seconds,
        "rate_limit": args.rate_limit,
        "api_key": args.api_key,
        "get_404_seconds": args.get_404_seconds,
        "state_file": args.state_file,
    }
    if args.seed is not None:
        options["seed"] = args.seed
    if args.faults is not None:
        options["faults"] = args.faults
    try:
        return EmulatorConfig.model_validate(options)
    except ValidationError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        app = create_app(config)
    except StateFileError as exc:
        sys.exit(f"error: {exc}")
    print(
        f"Vultr emulator  http://{config.host}:{config.port}/v2  "
        f"(billing period {config.billing_period_seconds:g}s, boot {config.boot_seconds:g}s, "
        f"rate limit {config.rate_limit}/s, seed {config.seed}"
        + (f", state in {config.state_file}" if config.state_file else "")
        + ")",
        flush=True,
    )
    uvicorn.run(app, host=config.host, port=config.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
