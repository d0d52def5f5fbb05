"""Command-line flags every face shares; each face's cli.py adds its own."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from emulator.core.faults import FaultConfig
from emulator.core.routes import RouteTable
from emulator.faces import DEFAULT_FACE, FACES

__all__ = ["common_options", "common_parser"]


def _faults_type(routes: RouteTable) -> Any:
    def parse(value: str) -> FaultConfig:
        """Inline JSON, or @path to a JSON file."""
        text = Path(value[1:]).read_text() if value.startswith("@") else value
        try:
            config = FaultConfig.model_validate_json(text)
            config.check_routes(routes.known)
        except (ValidationError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"invalid --faults: {exc}") from exc
        return config

    return parse


def common_parser(description: str | None, routes: RouteTable) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=description)
    parser.add_argument(
        "--provider",
        choices=sorted(FACES),
        default=DEFAULT_FACE,
        help=f"which provider's API to serve (default {DEFAULT_FACE})",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--billing-period-seconds",
        type=float,
        default=3600.0,
        help="length of one billed hour (default 3600)",
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
        "--faults",
        type=_faults_type(routes),
        default=None,
        help="fault configuration as JSON, or @file.json",
    )
    parser.add_argument(
        "--ignore-list-filters",
        action="store_true",
        help="the list route answers every live server whatever its query filters say, as "
        "a provider may with a deprecated filter (the ignore_list_filters fault, from the start)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep servers and charges in this JSON file across restarts (default: memory only)",
    )
    return parser


def common_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "billing_period_seconds": args.billing_period_seconds,
        "api_key": args.api_key,
        "state_file": args.state_file,
    }
    if args.seed is not None:
        options["seed"] = args.seed
    if args.faults is not None:
        options["faults"] = args.faults
    if args.ignore_list_filters:
        faults = args.faults or FaultConfig()
        options["faults"] = faults.model_copy(update={"ignore_list_filters": True})
    return options
