"""Hetzner Cloud: the API v1 client (client.py) and its Provider adapter (provider.py)."""

from providers.hetzner.client import DEFAULT_BASE_URL, HetznerClient
from providers.hetzner.provider import HetznerProvider

__all__ = ["DEFAULT_BASE_URL", "HetznerClient", "HetznerProvider"]
