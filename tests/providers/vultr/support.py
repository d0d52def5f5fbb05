"""What the Vultr client tests share: a scripted transport and the test key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

SECRET_KEY = "sk-live-0123456789abcdef-DO-NOT-LEAK"
BASE_URL = "https://api.example.test/v2"


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Scripted:
    """Answers requests with `handler` and remembers every request it saw."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)
