"""The provider-neutral emulator: clock, account store, ledger, faults, rate-limit gate,
request log, admin routes and state file. Each provider's API is a face on top (face.py)."""
