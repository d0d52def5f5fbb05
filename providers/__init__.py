"""Clouds behind one interface (`base.Provider`), and the ids a server may name."""

# A server names its provider by one of these ids (`ServerSpec.provider`).
PROVIDER_IDS: tuple[str, ...] = ("vultr", "hetzner", "digitalocean")
DEFAULT_PROVIDER = "vultr"
