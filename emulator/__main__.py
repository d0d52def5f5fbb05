"""`python -m emulator [--provider NAME] --port P ...`: serve one face (emulator/faces.py)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import uvicorn

from emulator.core.app import create_app
from emulator.core.config import CoreConfig
from emulator.core.persistence import StateFileError
from emulator.faces import DEFAULT_FACE, FACES

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> CoreConfig:
    """The chosen face's config; `--provider` picks the face (default vultr)."""
    argv = sys.argv[1:] if argv is None else argv
    chooser = argparse.ArgumentParser(prog="python -m emulator", add_help=False)
    chooser.add_argument("--provider", choices=sorted(FACES), default=DEFAULT_FACE)
    known, _ = chooser.parse_known_args(argv)  # a bad --provider exits here, with usage
    config: CoreConfig = importlib.import_module(FACES[known.provider]).parse_args(argv)
    return config


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        app = create_app(config)
    except StateFileError as exc:
        sys.exit(f"error: {exc}")
    print(config.summary(), flush=True)
    uvicorn.run(app, host=config.host, port=config.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
