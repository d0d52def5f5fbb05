"""Temporal-facing plumbing shared by the worker, the CLI and Python callers."""
