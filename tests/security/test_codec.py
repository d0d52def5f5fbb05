"""EncryptionCodec: AES-GCM payloads that only the right key opens, and nothing else."""

from __future__ import annotations

import hashlib
import os

import pytest
from temporalio.api.common.v1 import Payload

from client.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadKeyMismatch,
    PayloadTampered,
)
from client.connection import data_converter
from core.models import ServerSpec
from core.settings import load_settings

KEY = bytes.fromhex("11" * 32)
OTHER_KEY = bytes.fromhex("22" * 32)
CLOUD_INIT = "#cloud-config\nruncmd:\n  - echo codec-plaintext-marker-7f3a\n"


def plain(data: bytes = b'{"hello": "world"}', encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding, "extra": b"kept"}, data=data)


async def test_payloads_round_trip_with_their_metadata() -> None:
    codec = EncryptionCodec(KEY)
    originals = [plain(), plain(b"", b"binary/null"), plain(os.urandom(5000), b"binary/plain")]
    decoded = await codec.decode(await codec.encode(originals))
    assert decoded == originals


async def test_an_encrypted_payload_hides_the_data_and_names_its_key() -> None:
    codec = EncryptionCodec(KEY)
    (sealed,) = await codec.encode([plain(CLOUD_INIT.encode())])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == hashlib.sha256(KEY).hexdigest()[:8].encode()
    assert set(sealed.metadata) == {"encoding", KEY_ID_METADATA}  # inner metadata hidden too
    assert b"codec-plaintext-marker" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(KEY)
    first, second = await codec.encode([plain(), plain()])
    assert first.data[:12] != second.data[:12]  # fresh nonce
    assert first.data != second.data


@pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag"])
async def test_an_altered_payload_is_refused(where: str) -> None:
    codec = EncryptionCodec(KEY)
    (sealed,) = await codec.encode([plain()])
    data = bytearray(sealed.data)
    index = {"nonce": 0, "ciphertext": 12, "tag": len(data) - 1}[where]
    data[index] ^= 0x01
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(data))
    with pytest.raises(PayloadTampered, match="failed authentication"):
        await codec.decode([tampered])


@pytest.mark.parametrize("keep", [0, 11, 12, 27])
async def test_a_truncated_payload_is_refused(keep: int) -> None:
    codec = EncryptionCodec(KEY)
    (sealed,) = await codec.encode([plain()])
    truncated = Payload(metadata=dict(sealed.metadata), data=sealed.data[:keep])
    with pytest.raises(PayloadTampered):
        await codec.decode([truncated])


async def test_a_payload_relabelled_to_this_key_is_refused() -> None:
    (foreign,) = await EncryptionCodec(OTHER_KEY).encode([plain()])
    codec = EncryptionCodec(KEY)
    relabelled = Payload(
        metadata={"encoding": ENCODING, KEY_ID_METADATA: codec.key_id.encode()}, data=foreign.data
    )
    with pytest.raises(PayloadTampered):
        await codec.decode([relabelled])


async def test_a_payload_from_another_key_names_both_key_ids() -> None:
    writer, reader = EncryptionCodec(OTHER_KEY), EncryptionCodec(KEY)
    (sealed,) = await writer.encode([plain()])
    with pytest.raises(PayloadKeyMismatch) as caught:
        await reader.decode([sealed])
    assert str(caught.value).startswith(
        f"payload encrypted with key id {writer.key_id}; this process has key id {reader.key_id}"
    )
    assert "PAYLOAD_ENCRYPTION_KEY" in str(caught.value)
    assert writer.key_id != reader.key_id


async def test_unencrypted_payloads_pass_through_decode_unchanged() -> None:
    codec = EncryptionCodec(KEY)
    older = [plain(), plain(b"\x00\x01", b"binary/plain"), Payload()]
    assert await codec.decode(older) == older


async def test_a_mixed_history_decodes_both_kinds() -> None:
    codec = EncryptionCodec(KEY)
    (sealed,) = await codec.encode([plain(b'"new"')])
    assert await codec.decode([plain(b'"old"'), sealed]) == [plain(b'"old"'), plain(b'"new"')]


@pytest.mark.parametrize("size", [16, 24, 32])
async def test_every_aes_key_size_works(size: int) -> None:
    codec = EncryptionCodec(os.urandom(size))
    assert await codec.decode(await codec.encode([plain()])) == [plain()]


def test_a_key_of_another_size_is_rejected_with_advice() -> None:
    with pytest.raises(ValueError, match="16, 24 or 32 bytes, got 20.*PAYLOAD_ENCRYPTION_KEY"):
        EncryptionCodec(os.urandom(20))


def test_the_codec_repr_shows_only_the_key_id() -> None:
    codec = EncryptionCodec(KEY)
    assert repr(codec) == f"EncryptionCodec(key_id='{codec.key_id}')"
    assert KEY.hex() not in repr(vars(codec))


async def test_the_settings_data_converter_encrypts_pydantic_models() -> None:
    converter = data_converter(load_settings(payload_encryption_key=KEY.hex()))
    spec = ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284, cloud_init=CLOUD_INIT)
    (payload,) = await converter.encode([spec])
    assert payload.metadata["encoding"] == ENCODING
    assert b"codec-plaintext-marker" not in payload.SerializeToString()
    assert await converter.decode([payload], [ServerSpec]) == [spec]


async def test_the_settings_data_converter_without_a_key_writes_plain_json() -> None:
    converter = data_converter(load_settings(payload_encryption_key=""))
    spec = ServerSpec(region="ewr", plan="vc2-1c-1gb", os_id=2284, cloud_init=CLOUD_INIT)
    (payload,) = await converter.encode([spec])
    assert payload.metadata["encoding"] == b"json/plain"
    assert b"codec-plaintext-marker" in payload.data
