"""Configuration from the environment and `.env`; invalid values fail at start, named."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.delete_plan import DeleteBudget
from core.validation import validation_problems

__all__ = ["Settings", "SettingsError", "load_settings", "settings_environment"]

DEFAULT_VULTR_API_URL = "https://api.vultr.com/v2"
DEFAULT_HCLOUD_API_URL = "https://api.hetzner.cloud/v1"
DEFAULT_DIGITALOCEAN_API_URL = "https://api.digitalocean.com"


class SettingsError(ValueError):
    """Configuration is invalid; the message names each variable and what is wrong."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Vultr. The key stays a SecretStr so repr() and logs show "**********".
    vultr_api_key: SecretStr | None = None
    vultr_api_url: str = DEFAULT_VULTR_API_URL
    vultr_requests_per_second: float = Field(default=25.0, gt=0, le=30)

    # Hetzner Cloud (optional: no token = not configured). A SecretStr like the Vultr key.
    hcloud_token: SecretStr | None = None
    hcloud_api_url: str = DEFAULT_HCLOUD_API_URL
    # Hetzner allows 3,600 requests an hour per project, refilled one a second.
    hetzner_requests_per_second: float = Field(default=0.9, gt=0, le=1)
    # DigitalOcean (optional). The token stays a SecretStr, as the Vultr key does.
    digitalocean_token: SecretStr | None = None
    digitalocean_api_url: str = DEFAULT_DIGITALOCEAN_API_URL
    # Hours billed per calendar month at most (the hourly price is monthly / 672); DigitalOcean's
    # per-second billing states no cap of its own, so this is configurable.
    digitalocean_monthly_cap_hours: float = Field(default=672.0, gt=0)
    # DigitalOcean allows 250 requests a minute (about 4 a second) and 5,000 an hour.
    digitalocean_requests_per_second: float = Field(default=3.0, gt=0, le=4)

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "servers"
    # How long the CLI (ServerFleet.connect) waits for Temporal: the connection, each request.
    cli_timeout_seconds: float = Field(default=10.0, gt=0)

    # MongoDB
    mongo_uri: str = "mongodb://localhost:27017"
    mongo_db: str = "vultr_lifecycle"
    mongo_write_concern: str = "majority"

    # Billing policy
    billing_period_seconds: int = Field(default=3600, gt=0)
    terminate_before_seconds: int = Field(default=60, ge=0)
    readiness_timeout_seconds: int = Field(default=900, gt=0)
    # Per-second billing has no boundary to wait for: an idle server goes after this long.
    idle_window_seconds: int = Field(default=300, gt=0)

    # Shared resources
    max_servers: int = Field(default=10, gt=0)  # each provider account's, unless overridden
    vultr_max_servers: int | None = Field(default=None, gt=0)
    hetzner_max_servers: int | None = Field(default=None, gt=0)
    digitalocean_max_servers: int | None = Field(default=None, gt=0)
    max_concurrent_terminations: int = Field(default=30, gt=0)
    # The delete plan: idle servers reserve delete slots within this share of their
    # provider's request rate (the rest is for creates and polls), moving deletes
    # earlier when more deadlines fall together than the rate can serve. "off": each
    # server deletes at its own deadline.
    delete_planner: Literal["on", "off"] = "on"
    delete_budget_share: float = Field(default=0.5, gt=0, le=1)

    # Reconciliation (a Temporal Schedule the worker keeps up to date; 0 disables it)
    reconcile_interval_seconds: int = Field(default=300, ge=0)
    orphan_grace_seconds: int = Field(default=600, ge=0)
    orphan_action: Literal["adopt", "delete"] = "adopt"

    # Defaults for new servers
    default_region: str = "ewr"
    default_plan: str = "vc2-1c-1gb"
    default_os_id: int = 2284

    # Workflows a worker keeps in memory between their tasks. A task of one that is not
    # kept replays its whole history first, so keep it above the live servers a worker
    # runs (about 0.3 MiB each).
    worker_max_cached_workflows: int = Field(default=5000, gt=0)

    # Observability and security
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    # How often the worker re-reads the read model for the fleet gauges.
    metrics_interval_seconds: float = Field(default=15, gt=0)
    payload_encryption_key: SecretStr | None = None

    @field_validator(
        "vultr_max_servers", "hetzner_max_servers", "digitalocean_max_servers", mode="before"
    )
    @classmethod
    def _unset_quota(cls, value: object) -> object:
        # An empty variable (`HETZNER_MAX_SERVERS=`) means not set: MAX_SERVERS applies.
        return None if value == "" else value

    @field_validator("mongo_uri")
    @classmethod
    def _mongo_uri_shape(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("mongodb", "mongodb+srv"):
            raise ValueError(
                f"must start with mongodb:// or mongodb+srv://, got {value.split('@')[-1]!r}"
            )
        if not parsed.netloc or parsed.netloc.endswith("@"):
            raise ValueError("has no host (expected mongodb://HOST[:PORT])")
        try:
            parsed.port  # noqa: B018 - raises on a non-numeric port
        except ValueError as exc:
            raise ValueError(f"has an invalid port: {exc}") from None
        return value

    @field_validator("vultr_api_url", "digitalocean_api_url")
    @classmethod
    def _api_url_shape(cls, value: str, info: ValidationInfo) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            example = (
                DEFAULT_VULTR_API_URL
                if info.field_name == "vultr_api_url"
                else DEFAULT_DIGITALOCEAN_API_URL
            )
            raise ValueError(f"must be an http(s) URL such as {example}")
        return value.rstrip("/")

    @field_validator("hcloud_api_url")
    @classmethod
    def _hcloud_url_shape(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL such as {DEFAULT_HCLOUD_API_URL}")
        return value.rstrip("/")

    @field_validator("temporal_address")
    @classmethod
    def _temporal_address_shape(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"must be HOST:PORT such as localhost:7233, got {value!r}")
        return value

    @field_validator("mongo_write_concern")
    @classmethod
    def _write_concern_shape(cls, value: str) -> str:
        if value != "majority" and not value.isdigit():
            raise ValueError("must be 'majority' or a number of nodes")
        return value

    @field_validator("payload_encryption_key")
    @classmethod
    def _encryption_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        raw = value.get_secret_value()
        try:
            key = bytes.fromhex(raw)
        except ValueError:
            raise ValueError("must be hex (32 bytes = 64 hex digits for AES-256)") from None
        if len(key) not in (16, 24, 32):
            raise ValueError("must be 16, 24 or 32 bytes of hex for AES-GCM")
        return value

    @model_validator(mode="after")
    def _margin_below_period(self) -> Settings:
        if self.terminate_before_seconds >= self.billing_period_seconds:
            raise ValueError(
                "TERMINATE_BEFORE_SECONDS must be smaller than BILLING_PERIOD_SECONDS "
                f"({self.terminate_before_seconds} >= {self.billing_period_seconds})"
            )
        return self

    def vultr_key(self) -> str:
        """The API key, for the Vultr client alone."""
        if self.vultr_api_key is None or not self.vultr_api_key.get_secret_value():
            raise SettingsError(
                "VULTR_API_KEY is not set: export it, put it in .env, or point "
                "VULTR_API_URL at the emulator (any non-empty key works there)"
            )
        return self.vultr_api_key.get_secret_value()

    def requests_per_second(self, provider: str) -> float:
        """The rate limit of a provider's task queue, for all workers together."""
        limits = {
            "vultr": self.vultr_requests_per_second,
            "hetzner": self.hetzner_requests_per_second,
            "digitalocean": self.digitalocean_requests_per_second,
        }
        if provider not in limits:
            raise SettingsError(f"no request rate is configured for provider {provider!r}")
        return limits[provider]

    def delete_budget(self, provider: str) -> DeleteBudget | None:
        """A provider's delete-plan budget; None when the planner is off."""
        if self.delete_planner == "off":
            return None
        return DeleteBudget.from_rate(self.requests_per_second(provider) * self.delete_budget_share)

    def max_servers_for(self, provider: str) -> int:
        """A provider account's quota: `<PROVIDER>_MAX_SERVERS` if set, else MAX_SERVERS."""
        own = getattr(self, f"{provider}_max_servers", None)
        return self.max_servers if own is None else int(own)

    @property
    def hetzner_configured(self) -> bool:
        return self.hcloud_token is not None and bool(self.hcloud_token.get_secret_value())

    def hcloud_key(self) -> str:
        """The Hetzner API token, for the Hetzner client alone."""
        if not self.hetzner_configured:
            raise SettingsError(
                "HCLOUD_TOKEN is not set: export it, put it in .env, or point "
                "HCLOUD_API_URL at the emulator (any non-empty token works there)"
            )
        assert self.hcloud_token is not None
        return self.hcloud_token.get_secret_value()

    @property
    def digitalocean_configured(self) -> bool:
        token = self.digitalocean_token
        return token is not None and bool(token.get_secret_value())

    def digitalocean_key(self) -> str:
        """The DigitalOcean token, for the DigitalOcean client alone."""
        if self.digitalocean_token is None or not self.digitalocean_configured:
            raise SettingsError(
                "DIGITALOCEAN_TOKEN is not set: export it, put it in .env, or point "
                "DIGITALOCEAN_API_URL at the emulator (any non-empty token works there)"
            )
        return self.digitalocean_token.get_secret_value()


def describe_validation_error(exc: ValidationError) -> str:
    problems = validation_problems(exc, where=lambda loc: "_".join(map(str, loc)).upper())
    return "invalid configuration:\n  " + "\n  ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Settings from env/.env (overrides win); raises SettingsError with named variables."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment variables that give another process (a worker) these settings,
    each as Settings reads it back; unset (None) fields are left out. Secrets are in
    clear: for a child process's environment, never for a log."""
    env = {}
    for name, value in settings:
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[name.upper()] = str(value)
    return env
