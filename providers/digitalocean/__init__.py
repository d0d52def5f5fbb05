"""DigitalOcean API v2: the client (droplets and catalog) and its Provider adapter."""

from providers.digitalocean.client import DEFAULT_BASE_URL, DigitalOceanClient, RateLimitState
from providers.digitalocean.provider import DigitalOceanProvider, digitalocean_billing_model

__all__ = [
    "DEFAULT_BASE_URL",
    "DigitalOceanClient",
    "DigitalOceanProvider",
    "RateLimitState",
    "digitalocean_billing_model",
]
