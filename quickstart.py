#!/usr/bin/env python3
"""The two Quickstart commands, needing nothing but Python 3.11+:

    python3 quickstart.py demo    # embedded stack + a full lifecycle demo
    python3 quickstart.py test    # the whole test suite

Both create .venv from uv.lock first (installing uv from PyPI if it is absent).
Extra arguments go to the demo or to pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UV_VERSION = "0.13.8"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
TEST_COMMAND = ["-m", "pytest", "-p", "no:cacheprovider"]


def find_uv() -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv]
    probe = subprocess.run(
        [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        print(f"installing uv {UV_VERSION} from PyPI ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"], check=True
        )
    return [sys.executable, "-m", "uv"]


def sync() -> None:
    print("syncing .venv from uv.lock ...", flush=True)
    subprocess.run([*find_uv(), "sync", "--frozen"], cwd=ROOT, check=True)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before any venv exists
        print("Python 3.11 or newer is needed", file=sys.stderr)
        return 2
    if not argv or argv[0] not in ("demo", "test", "sync"):
        print(__doc__, file=sys.stderr)
        return 2
    command, extra = argv[0], argv[1:]
    sync()
    if command == "sync":
        return 0
    if command == "demo":
        args = [str(VENV_PYTHON), "starter.py", "demo", *extra]
    else:
        args = [str(VENV_PYTHON), *TEST_COMMAND, *extra]
    os.chdir(ROOT)
    return subprocess.run(args, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
