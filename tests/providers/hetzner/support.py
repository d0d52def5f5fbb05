"""What the Hetzner client tests share: the test token and error answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx

SECRET_TOKEN = "hcloud-live-0123456789abcdef-DO-NOT-LEAK"
BASE_URL = "https://api.example.test/v1"


Handler = Callable[[httpx.Request], httpx.Response]


def error_answer(
    status: int, code: str, message: str = "refused", headers: dict[str, str] | None = None
) -> Handler:
    body = {"error": {"code": code, "message": message, "details": {}}}
    return lambda request: httpx.Response(status, json=body, headers=headers)
