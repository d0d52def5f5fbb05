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


POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def ensure_prometheus() -> None:
    """The monitoring tests run Debian's prometheus and promtool: install them when missing
    and apt is usable (root); otherwise those tests skip (and fail under CI=true)."""
    if shutil.which("promtool") and shutil.which("prometheus"):
        return
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(
            "prometheus is not installed and apt-get is not usable as root: "
            "the monitoring tests will skip",
            flush=True,
        )
        return
    print("installing Debian's prometheus package for the monitoring tests ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def run(cmd: list[str]) -> int:
        return subprocess.run(cmd, env=env, check=False, timeout=600).returncode

    install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
    # The package starts a service on install; the tests run their own on free ports,
    # so forbid service starts for the install (policy-rc.d exit 101) unless one exists.
    made_policy = not POLICY_RC_D.exists()
    if made_policy:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        if run(install) != 0 and (run(["apt-get", "update"]) != 0 or run(install) != 0):
            print("could not install prometheus: the monitoring tests will skip", flush=True)
    except subprocess.TimeoutExpired:
        print("installing prometheus timed out: the monitoring tests will skip", flush=True)
    finally:
        if made_policy:
            POLICY_RC_D.unlink(missing_ok=True)


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
        ensure_prometheus()
        args = [str(VENV_PYTHON), *TEST_COMMAND, *extra]
    os.chdir(ROOT)
    return subprocess.run(args, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
