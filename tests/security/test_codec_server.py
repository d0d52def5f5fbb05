"""The codec server over real HTTP, as the Temporal web UI and CLI call it."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from client.codec import EncryptionCodec
from devstack.components import PROJECT_ROOT
from devstack.procs import free_port
from tests.security.support import RunningCodecServer, start_codec_server

KEY = bytes.fromhex("5a" * 32)
UI_ORIGIN = "http://ui.test:8233"
PLAINTEXT = b'{"cloud_init": "codec-server-marker-91c2"}'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def codec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCodecServer]:
    running = start_codec_server(
        tmp_path_factory.mktemp("codec-server"), KEY.hex(), "--cors-origin", UI_ORIGIN
    )
    try:
        yield running
    finally:
        running.process.stop()


@pytest.fixture
def base(codec_server: RunningCodecServer) -> str:
    return codec_server.base


def as_json(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def from_json(text: str) -> list[Payload]:
    parsed = Payloads()
    json_format.Parse(text, parsed)
    return list(parsed.payloads)


def plain(data: bytes = PLAINTEXT) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def sealed(*payloads: Payload, key: bytes = KEY) -> list[Payload]:
    codec = EncryptionCodec(key)
    return [codec.encrypt(p) for p in payloads]


def test_decode_answers_the_original_payloads(base: str) -> None:
    originals = [plain(), plain(b"[1, 2, 3]")]
    response = httpx.post(
        f"{base}/decode",
        content=as_json(sealed(*originals)),
        headers={"Content-Type": "application/json", "X-Namespace": "default"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert from_json(response.text) == originals


def test_decode_speaks_the_ui_wire_format_with_base64_bytes(base: str) -> None:
    (encrypted,) = sealed(plain())
    body = {
        "payloads": [
            {
                "metadata": {k: b64(v) for k, v in encrypted.metadata.items()},
                "data": b64(encrypted.data),
            }
        ]
    }
    response = httpx.post(f"{base}/decode", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "payloads": [{"metadata": {"encoding": b64(b"json/plain")}, "data": b64(PLAINTEXT)}]
    }


def test_encode_output_decodes_with_the_same_key_elsewhere(base: str) -> None:
    response = httpx.post(f"{base}/encode", content=as_json([plain()]))
    assert response.status_code == 200, response.text
    (encrypted,) = from_json(response.text)
    assert PLAINTEXT not in encrypted.data
    assert EncryptionCodec(KEY).decrypt(encrypted) == plain()


def test_a_namespace_prefixed_path_is_served(base: str) -> None:
    response = httpx.post(f"{base}/default/decode", content=as_json(sealed(plain())))
    assert response.status_code == 200, response.text
    assert from_json(response.text) == [plain()]


def test_unencrypted_payloads_come_back_unchanged(base: str) -> None:
    response = httpx.post(f"{base}/decode", content=as_json([plain()]))
    assert response.status_code == 200
    assert from_json(response.text) == [plain()]


def test_payloads_of_another_key_get_400_naming_both_key_ids(base: str) -> None:
    other = os.urandom(32)
    response = httpx.post(f"{base}/decode", content=as_json(sealed(plain(), key=other)))
    assert response.status_code == 400
    own, foreign = EncryptionCodec(KEY).key_id, EncryptionCodec(other).key_id
    assert response.json()["error"].startswith(
        f"payload encrypted with key id {foreign}; this process has key id {own}"
    )


def test_an_altered_payload_gets_400(base: str) -> None:
    (encrypted,) = sealed(plain())
    encrypted.data = encrypted.data[:-1] + bytes([encrypted.data[-1] ^ 1])
    response = httpx.post(f"{base}/decode", content=as_json([encrypted]))
    assert response.status_code == 400
    assert "failed authentication" in response.json()["error"]


@pytest.mark.parametrize("body", [b"not json", b'{"payloads": 5}', b"\xff\xfe"])
def test_a_body_that_is_not_payloads_json_gets_400(base: str, body: bytes) -> None:
    response = httpx.post(f"{base}/decode", content=body)
    assert response.status_code == 400
    assert "Payloads JSON" in response.json()["error"]


def test_a_path_other_than_encode_or_decode_gets_404(base: str) -> None:
    response = httpx.post(f"{base}/transcode", content=as_json([plain()]))
    assert response.status_code == 404
    assert ".../decode" in response.json()["error"]


def test_decode_by_get_is_not_allowed(base: str) -> None:
    assert httpx.get(f"{base}/decode").status_code == 405


def test_the_ui_origin_passes_the_cors_preflight(base: str) -> None:
    response = httpx.options(
        f"{base}/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "x-namespace" in allowed and "content-type" in allowed


def test_another_origin_fails_the_cors_preflight(base: str) -> None:
    response = httpx.options(
        f"{base}/decode",
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_a_ui_request_is_answered_with_its_origin_allowed(base: str) -> None:
    response = httpx.post(
        f"{base}/decode",
        content=as_json(sealed(plain())),
        headers={"Origin": UI_ORIGIN, "X-Namespace": "default"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN


def test_the_server_log_never_shows_the_key(base: str, codec_server: RunningCodecServer) -> None:
    httpx.post(f"{base}/decode", content=as_json(sealed(plain(), key=os.urandom(32))))
    log = Path(codec_server.process.log_path).read_text()
    assert "POST /decode" in log  # the log is being written
    assert KEY.hex() not in log.lower()


def test_the_server_refuses_to_start_without_a_key() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "client.codec_server", "--port", str(free_port())],
        env={**os.environ, "PAYLOAD_ENCRYPTION_KEY": ""},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "PAYLOAD_ENCRYPTION_KEY is not set" in done.stderr


def test_the_server_refuses_a_key_that_is_not_hex() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "client.codec_server", "--port", str(free_port())],
        env={**os.environ, "PAYLOAD_ENCRYPTION_KEY": "not-hex"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "PAYLOAD_ENCRYPTION_KEY: must be hex" in done.stderr
    assert "not-hex" not in done.stderr
