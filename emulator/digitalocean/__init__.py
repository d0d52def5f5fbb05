"""The DigitalOcean API v2 face of the emulator: droplets, catalog, page pagination,
per-token rate limit with headers on every answer, error body and per-second billing."""
