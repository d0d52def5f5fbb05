"""The operator CLI (starter.py) and the ServerFleet client, against the real stack."""
