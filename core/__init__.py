"""The domain, pure: billing, lifecycle, models, settings, naming, cost. No IO, no Temporal."""
