"""Vultr, Hetzner and DigitalOcean emulators that accept only the security tests'
distinctive tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.support import API_KEY, DIGITALOCEAN_TOKEN, HCLOUD_TOKEN
from tests.support.emulator import RunningEmulator, running_emulator

PERIOD = 20  # seconds per billed "hour"
MARGIN = 5
BOOT = 2


@pytest.fixture(scope="session")
def locked_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(
        tmp_path_factory.mktemp("locked-emulator"),
        billing_period_seconds=PERIOD,
        boot_seconds=BOOT,
        rate_limit=1000,
        extra_args=["--api-key", API_KEY.value],
    ) as running:
        yield running


@pytest.fixture(scope="session")
def locked_hetzner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(
        tmp_path_factory.mktemp("locked-hetzner"),
        provider="hetzner",
        billing_period_seconds=PERIOD,
        boot_seconds=BOOT,
        rate_limit=100_000,
        extra_args=[
            "--api-key",
            HCLOUD_TOKEN.value,
            "--delete-seconds",
            "1",
            "--rate-limit-refill-per-second",
            "1000",
        ],
    ) as running:
        yield running


@pytest.fixture(scope="session")
def locked_digitalocean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    # Real seconds (its default 3600 s hour): the Droplet goes after a short idle window.
    with running_emulator(
        tmp_path_factory.mktemp("locked-digitalocean"),
        provider="digitalocean",
        boot_seconds=BOOT,
        rate_limit=0,
        extra_args=["--api-key", DIGITALOCEAN_TOKEN.value],
    ) as running:
        yield running
