"""The Vultr API v2 face of the emulator: routes, JSON shapes, validation, catalog,
lifecycle timing, error body and rate-limit policy."""
