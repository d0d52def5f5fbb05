"""The faces `python -m emulator --provider NAME` can serve: name -> the module whose
`parse_args(argv)` turns its flags into that face's config."""

from __future__ import annotations

__all__ = ["DEFAULT_FACE", "FACES"]

DEFAULT_FACE = "vultr"
FACES: dict[str, str] = {
    "vultr": "emulator.vultr.cli",
    "hetzner": "emulator.hetzner.cli",
    "digitalocean": "emulator.digitalocean.cli",
}
