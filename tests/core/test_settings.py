"""Each bad setting stops the process at start with the variable's name."""

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError, load_settings, settings_environment


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_match_the_design():
    s = load_settings()
    assert s.billing_period_seconds == 3600
    assert s.terminate_before_seconds == 60
    assert s.max_concurrent_terminations == 30
    assert s.worker_max_cached_workflows == 5000
    assert s.temporal_address == "localhost:7233"
    assert s.mongo_uri == "mongodb://localhost:27017"
    assert s.vultr_api_url == "https://api.vultr.com/v2"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("MONGO_URI", "postgres://x", "MONGO_URI"),
        ("MONGO_URI", "mongodb://", "MONGO_URI"),
        ("MONGO_URI", "mongodb://host:notaport", "MONGO_URI"),
        ("TERMINATE_BEFORE_SECONDS", "-5", "TERMINATE_BEFORE_SECONDS"),
        ("TERMINATE_BEFORE_SECONDS", "3600", "TERMINATE_BEFORE_SECONDS must be smaller"),
        ("BILLING_PERIOD_SECONDS", "0", "BILLING_PERIOD_SECONDS"),
        ("TEMPORAL_ADDRESS", "localhost", "TEMPORAL_ADDRESS"),
        ("VULTR_API_URL", "api.vultr.com", "VULTR_API_URL"),
        ("MAX_SERVERS", "0", "MAX_SERVERS"),
        ("WORKER_MAX_CACHED_WORKFLOWS", "0", "WORKER_MAX_CACHED_WORKFLOWS"),
        ("HETZNER_MAX_SERVERS", "0", "HETZNER_MAX_SERVERS"),
        ("VULTR_REQUESTS_PER_SECOND", "31", "VULTR_REQUESTS_PER_SECOND"),
        ("PAYLOAD_ENCRYPTION_KEY", "zz", "PAYLOAD_ENCRYPTION_KEY"),
        ("METRICS_PORT", "70000", "METRICS_PORT"),
    ],
)
def test_bad_values_are_named(monkeypatch, variable, value, words):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert words in str(err.value)


def test_the_env_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("MAX_SERVERS=7\nTERMINATE_BEFORE_SECONDS=30\n")
    s = load_settings()
    assert (s.max_servers, s.terminate_before_seconds) == (7, 30)


def test_a_provider_quota_overrides_max_servers_for_that_account_only(monkeypatch):
    monkeypatch.setenv("MAX_SERVERS", "4")
    monkeypatch.setenv("HETZNER_MAX_SERVERS", "2")
    s = load_settings()
    assert (s.max_servers_for("hetzner"), s.max_servers_for("vultr")) == (2, 4)
    assert s.max_servers_for("digitalocean") == 4


def test_the_api_key_never_shows_in_repr_or_errors(monkeypatch):
    monkeypatch.setenv("VULTR_API_KEY", "SECRETKEY1234567890")
    s = load_settings()
    assert "SECRETKEY1234567890" not in repr(s) and "SECRETKEY1234567890" not in str(s)
    assert s.vultr_key() == "SECRETKEY1234567890"
    monkeypatch.setenv("MONGO_URI", "nope")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SECRETKEY1234567890" not in str(err.value)


def test_a_missing_key_says_what_to_do():
    with pytest.raises(SettingsError) as err:
        load_settings().vultr_key()
    assert "VULTR_API_KEY is not set" in str(err.value)


def test_settings_environment_gives_a_process_the_same_settings(monkeypatch):
    """What a bench or devstack hands a worker reads back as the settings it came from:
    secrets in clear, numbers and choices as typed, unset fields left out."""
    original = load_settings(
        vultr_api_key="KEY-FOR-THE-CHILD-1234",
        hcloud_token="hcloud-child-token",
        vultr_requests_per_second=12.5,
        hetzner_max_servers=3,
        delete_planner="off",
        billing_period_seconds=120,
        terminate_before_seconds=20,
        payload_encryption_key="0" * 64,
    )
    env = settings_environment(original)
    assert env["VULTR_API_KEY"] == "KEY-FOR-THE-CHILD-1234"
    assert "VULTR_MAX_SERVERS" not in env  # None: the child falls back to MAX_SERVERS
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    again = load_settings()
    secrets = ("vultr_api_key", "hcloud_token", "payload_encryption_key")
    assert again.model_dump(exclude=set(secrets)) == original.model_dump(exclude=set(secrets))
    for field in secrets:
        assert (
            getattr(again, field).get_secret_value() == getattr(original, field).get_secret_value()
        )
