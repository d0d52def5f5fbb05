"""How the devstack reads its configuration; no process is started here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from core.settings import Settings, SettingsError
from devstack.stack import DEFAULT_DATA_DIR, DevStackOptions

DEVSTACK_VARS = (
    "DEVSTACK_DATA_DIR",
    "DEVSTACK_TEMPORAL_PORT",
    "DEVSTACK_UI_PORT",
    "DEVSTACK_MONGO_PORT",
    "DEVSTACK_EMULATOR_PORT",
    "DEVSTACK_EMULATOR_BOOT_SECONDS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in DEVSTACK_VARS:
        monkeypatch.delenv(var, raising=False)


def settings(**values: Any) -> Settings:
    """Settings from `values` alone: no `.env`, no process environment."""
    return Settings(_env_file=None, **values)


def test_defaults_are_the_well_known_ports_and_the_project_data_folder() -> None:
    options = DevStackOptions.from_environment(settings())

    assert (options.temporal_port, options.ui_port) == (7233, 8233)
    assert (options.mongo_port, options.emulator_port, options.metrics_port) == (27017, 8765, 9464)
    assert options.data_dir == DEFAULT_DATA_DIR
    assert DEFAULT_DATA_DIR.name == ".devstack"


def test_devstack_variables_set_ports_data_folder_and_boot_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEVSTACK_TEMPORAL_PORT", "17233")
    monkeypatch.setenv("DEVSTACK_UI_PORT", "18233")
    monkeypatch.setenv("DEVSTACK_MONGO_PORT", "37017")
    monkeypatch.setenv("DEVSTACK_EMULATOR_PORT", "18765")
    monkeypatch.setenv("DEVSTACK_EMULATOR_BOOT_SECONDS", "1.5")
    monkeypatch.setenv("DEVSTACK_DATA_DIR", str(tmp_path / "stack"))

    options = DevStackOptions.from_environment(settings())

    assert (options.temporal_port, options.ui_port, options.mongo_port) == (17233, 18233, 37017)
    assert options.emulator_port == 18765
    assert options.emulator_boot_seconds == 1.5
    assert options.data_dir == tmp_path / "stack"


def test_settings_names_carry_worker_policy_and_metrics_port() -> None:
    options = DevStackOptions.from_environment(
        settings(
            metrics_port=19464,
            billing_period_seconds=90,
            terminate_before_seconds=15,
            temporal_namespace="lifecycle",
            mongo_db="fleet",
        )
    )

    assert options.metrics_port == 19464
    assert (options.billing_period_seconds, options.terminate_before_seconds) == (90, 15)
    assert (options.temporal_namespace, options.mongo_db) == ("lifecycle", "fleet")


def test_explicit_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_MONGO_PORT", "37017")

    options = DevStackOptions.from_environment(settings(), mongo_port=47017, with_worker=False)

    assert options.mongo_port == 47017
    assert options.with_worker is False


def test_invalid_port_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_UI_PORT", "eighty")

    with pytest.raises(SettingsError, match="DEVSTACK_UI_PORT"):
        DevStackOptions.from_environment(settings())


def test_port_out_of_range_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_TEMPORAL_PORT", "70000")

    with pytest.raises(SettingsError, match="DEVSTACK_TEMPORAL_PORT"):
        DevStackOptions.from_environment(settings())


def test_two_components_on_one_port_are_rejected_naming_both() -> None:
    with pytest.raises(ValidationError, match="temporal_port and mongo_port are both 7000"):
        DevStackOptions(temporal_port=7000, mongo_port=7000)


def test_ports_of_components_not_started_may_coincide() -> None:
    options = DevStackOptions(
        emulator_port=9000, metrics_port=9000, use_emulator=False, with_worker=False
    )

    assert options.emulator_port == options.metrics_port == 9000


def test_port_zero_may_repeat_because_each_zero_becomes_its_own_free_port() -> None:
    options = DevStackOptions(temporal_port=0, ui_port=0, mongo_port=0)

    assert (options.temporal_port, options.ui_port, options.mongo_port) == (0, 0, 0)


def test_default_server_addresses_are_not_treated_as_existing_servers() -> None:
    options = DevStackOptions.from_environment(settings())

    assert options.temporal_address is None
    assert options.mongo_uri is None


def test_explicit_server_addresses_are_offered_for_reuse() -> None:
    options = DevStackOptions.from_environment(
        settings(temporal_address="temporal.internal:7233", mongo_uri="mongodb://db.internal:27017")
    )

    assert options.temporal_address == "temporal.internal:7233"
    assert options.mongo_uri == "mongodb://db.internal:27017"


def test_without_a_vultr_key_the_emulator_is_used() -> None:
    assert DevStackOptions.from_environment(settings()).use_emulator is True


def test_an_empty_vultr_key_counts_as_unset() -> None:
    assert DevStackOptions.from_environment(settings(vultr_api_key="")).use_emulator is True


def test_with_a_vultr_key_the_real_api_is_used_and_the_key_is_not_copied() -> None:
    options = DevStackOptions.from_environment(
        settings(vultr_api_key=SecretStr("real-key-123"), vultr_api_url="https://api.vultr.com/v2")
    )

    assert options.use_emulator is False
    assert options.vultr_api_url == "https://api.vultr.com/v2"
    assert "real-key-123" not in options.model_dump_json()
    assert "real-key-123" not in repr(options)


def test_relative_data_folder_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    options = DevStackOptions(data_dir=Path("here"))

    assert options.data_dir == tmp_path / "here"


def test_a_hetzner_emulator_runs_beside_the_vultr_one_unless_a_token_is_set() -> None:
    assert DevStackOptions.from_environment(settings()).runs_hetzner_emulator is True
    real = DevStackOptions.from_environment(settings(hcloud_token=SecretStr("real-hz-token")))
    assert real.runs_hetzner_emulator is False
    assert "real-hz-token" not in real.model_dump_json()
    no_emulators = DevStackOptions.from_environment(
        settings(vultr_api_key=SecretStr("real-key-123"), vultr_api_url="https://api.vultr.com/v2")
    )
    assert no_emulators.runs_hetzner_emulator is False


def test_a_digitalocean_emulator_runs_beside_the_vultr_one_unless_a_token_is_set() -> None:
    assert DevStackOptions.from_environment(settings()).runs_digitalocean_emulator is True
    real = DevStackOptions.from_environment(settings(digitalocean_token=SecretStr("real-do")))
    assert real.runs_digitalocean_emulator is False
    assert "real-do" not in real.model_dump_json()


def test_the_digitalocean_emulator_port_comes_from_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVSTACK_DIGITALOCEAN_PORT", "18767")
    assert DevStackOptions.from_environment(settings()).digitalocean_port == 18767


def test_the_hetzner_emulator_port_comes_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_HETZNER_PORT", "18766")
    assert DevStackOptions.from_environment(settings()).hetzner_port == 18766
