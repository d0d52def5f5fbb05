"""The DigitalOcean token never shows in a repr, an error message, a log line or the
settings' repr; without it the client and settings refuse with one clear line."""

from __future__ import annotations

import logging

import httpx
import pytest

from core.settings import SettingsError, load_settings
from providers.digitalocean import DigitalOceanClient
from providers.errors import ProviderBadRequest

TOKEN = "dop_v1_0123456789abcdef-DO-NOT-LEAK"


def _echoing(request: httpx.Request) -> httpx.Response:
    # A misbehaving proxy that echoes the Authorization header back in its error.
    echoed = request.headers["Authorization"]
    return httpx.Response(400, json={"id": "bad_request", "message": f"bad header {echoed}"})


async def test_the_token_is_in_no_repr_error_or_log(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    async with DigitalOceanClient(
        TOKEN, "https://do.example.test", transport=httpx.MockTransport(_echoing)
    ) as client:
        assert TOKEN not in repr(client)
        with pytest.raises(ProviderBadRequest) as caught:
            await client.get_droplet(5)
    error = caught.value
    assert TOKEN not in str(error) and TOKEN not in error.error_text and "[redacted]" in str(error)
    assert TOKEN not in caplog.text


def test_an_empty_token_is_refused_naming_the_variable():
    with pytest.raises(ValueError, match="set DIGITALOCEAN_TOKEN"):
        DigitalOceanClient("  ")


def test_settings_hide_the_token_and_name_it_when_missing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DIGITALOCEAN_TOKEN", raising=False)
    with pytest.raises(SettingsError, match="DIGITALOCEAN_TOKEN is not set"):
        load_settings(_env_file=None).digitalocean_key()
    settings = load_settings(_env_file=None, digitalocean_token=TOKEN)
    assert TOKEN not in repr(settings) and settings.digitalocean_key() == TOKEN
    assert settings.digitalocean_api_url == "https://api.digitalocean.com"
    with pytest.raises(SettingsError, match="DIGITALOCEAN_MONTHLY_CAP_HOURS"):
        load_settings(_env_file=None, digitalocean_monthly_cap_hours=0)
