"""The Hetzner Cloud API v1 face of the emulator: servers, catalog, actions, label
selectors, page pagination, the project rate limit and Hetzner's error body."""
