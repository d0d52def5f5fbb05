"""Vultr, Hetzner and DigitalOcean emulators that accept only the security tests'
distinctive tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.support import API_KEY, BOOT, DIGITALOCEAN_TOKEN, HCLOUD_TOKEN, PERIOD
from tests.support.emulator import RunningEmulator, quick_face


@pytest.fixture(scope="session")
def locked_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with quick_face(
        tmp_path_factory.mktemp("locked-emulator"),
        api_key=API_KEY.value,
        billing_period_seconds=PERIOD,
        boot_seconds=BOOT,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def locked_hetzner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with quick_face(
        tmp_path_factory.mktemp("locked-hetzner"),
        "hetzner",
        api_key=HCLOUD_TOKEN.value,
        billing_period_seconds=PERIOD,
        boot_seconds=BOOT,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def locked_digitalocean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    # Real seconds (its default 3600 s hour): the Droplet goes after a short idle window.
    with quick_face(
        tmp_path_factory.mktemp("locked-digitalocean"),
        "digitalocean",
        api_key=DIGITALOCEAN_TOKEN.value,
        boot_seconds=BOOT,
    ) as running:
        yield running
