"""The scanner the leak tests rely on finds a secret in every encoding it claims to."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import quote

import pytest

from tests.security.support import Secret

SECRET = Secret("SCANNERKEY0123456789ABCDEF")


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz", b'{"auth": "Bearer '])
def test_it_finds_the_secret_base64_encoded_at_any_offset(
    encode: Callable[[bytes], bytes], prefix: bytes
) -> None:
    assert SECRET.found_in(encode(prefix + SECRET.value.encode() + b'"}'))


def test_it_finds_the_secret_raw_and_url_encoded() -> None:
    assert SECRET.found_in(f"Authorization: Bearer {SECRET.value}")
    assert SECRET.found_in("?token=" + quote(SECRET.value, safe=""))


def test_it_does_not_find_what_is_not_there() -> None:
    near_miss = SECRET.value[:-1] + "X"
    assert not SECRET.found_in(near_miss)
    assert not SECRET.found_in(base64.b64encode(near_miss.encode()))
