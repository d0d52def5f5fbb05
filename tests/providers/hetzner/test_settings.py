"""HCLOUD_TOKEN and HCLOUD_API_URL: optional, the token a secret, bad URLs named."""

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError, load_settings
from providers.hetzner import DEFAULT_BASE_URL, HetznerClient


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_unset_means_not_configured_and_says_what_to_do() -> None:
    settings = load_settings()
    assert not settings.hetzner_configured
    assert settings.hcloud_api_url == DEFAULT_BASE_URL
    with pytest.raises(SettingsError, match="HCLOUD_TOKEN is not set"):
        settings.hcloud_key()


async def test_the_token_is_a_secret_and_reaches_only_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", "HCLOUDSECRET123")
    monkeypatch.setenv("HCLOUD_API_URL", "http://127.0.0.1:9/v1/")
    settings = load_settings()
    assert settings.hetzner_configured
    assert "HCLOUDSECRET123" not in repr(settings) and "HCLOUDSECRET123" not in str(settings)
    async with HetznerClient.from_settings(settings) as client:
        assert client.base_url == "http://127.0.0.1:9/v1"
        assert "HCLOUDSECRET123" not in repr(client)


def test_a_bad_api_url_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCLOUD_API_URL", "api.hetzner.cloud")
    with pytest.raises(SettingsError, match="(?i)hcloud_api_url"):
        load_settings()
