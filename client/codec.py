"""AES-GCM payload encryption, so Temporal stores workflow and activity data as ciphertext.

Each payload is serialized whole (metadata and data), sealed with a fresh random
12-byte nonce, and replaced by a payload whose metadata says `binary/encrypted`
and names the key by id. The key id is also the AEAD associated data, so a payload
cannot be relabelled to another key without failing authentication.

Decoding passes payloads without the encrypted encoding through unchanged, so
histories written before encryption was switched on still read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

__all__ = [
    "ENCODING",
    "KEY_ID_METADATA",
    "EncryptionCodec",
    "PayloadDecryptionError",
    "PayloadKeyMismatch",
    "PayloadTampered",
    "key_id",
]

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12  # the size AES-GCM is specified for; random per payload
TAG_BYTES = 16  # the authentication tag AESGCM appends


class PayloadDecryptionError(ValueError):
    """An encrypted payload could not be decrypted by this process."""


class PayloadKeyMismatch(PayloadDecryptionError):
    """The payload was sealed with a different key than this process holds."""

    def __init__(self, payload_key_id: str, own_key_id: str) -> None:
        super().__init__(
            f"payload encrypted with key id {payload_key_id}; this process has key id "
            f"{own_key_id}: set PAYLOAD_ENCRYPTION_KEY to the key that wrote this history "
            "(every worker, starter and codec server must share one key)"
        )
        self.payload_key_id = payload_key_id
        self.own_key_id = own_key_id


class PayloadTampered(PayloadDecryptionError):
    """The ciphertext, nonce or key id was altered after encryption."""


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload with AES-GCM under one 16, 24 or 32-byte key."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError(
                f"an AES-GCM key is 16, 24 or 32 bytes, got {len(key)}: set "
                "PAYLOAD_ENCRYPTION_KEY to 64 hex digits (e.g. `openssl rand -hex 32`)"
            )
        self._aead = AESGCM(key)
        self.key_id = key_id(key)
        self._key_id_bytes = self.key_id.encode()

    def __repr__(self) -> str:
        return f"EncryptionCodec(key_id={self.key_id!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, payload.SerializeToString(), self._key_id_bytes)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self._key_id_bytes},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        found = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        if found != self.key_id:
            raise PayloadKeyMismatch(found or "(none)", self.key_id)
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            if len(sealed) < TAG_BYTES:
                raise InvalidTag
            plain = self._aead.decrypt(nonce, sealed, self._key_id_bytes)
        except InvalidTag:
            raise PayloadTampered(
                f"encrypted payload (key id {self.key_id}) failed authentication: it was "
                "altered or truncated after encryption, and is refused rather than trusted"
            ) from None
        inner = Payload()
        try:
            inner.ParseFromString(plain)
        except DecodeError:
            raise PayloadTampered(
                f"encrypted payload (key id {self.key_id}) decrypted to bytes that are not "
                "a Temporal payload"
            ) from None
        return inner
