"""Codec server: lets the Temporal web UI and CLI read payloads encrypted by fleet.codec.

It speaks the remote codec protocol: `POST .../decode` and `POST .../encode` take and
return `{"payloads": [...]}`, the proto3 JSON form of `temporal.api.common.v1.Payloads`
(bytes fields base64). Only the last path segment picks the action, so
`/decode` and `/{namespace}/decode` both work. The key is PAYLOAD_ENCRYPTION_KEY,
read from the environment or `.env` like every other setting.

Run it next to the dev server and point the UI at it:

    PAYLOAD_ENCRYPTION_KEY=<64 hex digits> python -m fleet.codec_server --port 8081
    temporal server start-dev --ui-codec-endpoint http://localhost:8081

For a UI that is already running, set the same URL under the UI's codec server
settings instead. The CLI takes it per command:

    temporal workflow show -w server-NAME --codec-endpoint http://localhost:8081

Whoever can reach this server can decrypt payloads with it, so it listens on
127.0.0.1 unless told otherwise, and answers browsers only from the UI origins
given with --cors-origin (default: the dev server UI on port 8233).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from client.codec import EncryptionCodec, PayloadDecryptionError
from core.settings import SettingsError, load_settings

__all__ = ["DEFAULT_PORT", "DEFAULT_UI_ORIGINS", "create_app", "main"]

DEFAULT_PORT = 8081
DEFAULT_UI_ORIGINS: tuple[str, ...] = ("http://localhost:8233", "http://127.0.0.1:8233")
# What the UI sends: JSON bodies, the namespace, and a bearer token when it is told to.
ALLOWED_HEADERS = ("content-type", "x-namespace", "authorization")

log = logging.getLogger("client.codec_server")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def create_app(
    codec: PayloadCodec, *, cors_origins: Sequence[str] = DEFAULT_UI_ORIGINS
) -> Starlette:
    """The codec server as an ASGI app around any payload codec."""

    async def convert(request: Request) -> Response:
        action = request.path_params["path"].rstrip("/").rpartition("/")[2]
        if action not in ("encode", "decode"):
            return _error(404, f"no route {request.url.path}: POST to .../encode or .../decode")
        payloads = Payloads()
        try:
            json_format.Parse(await request.body(), payloads)
        except (json_format.ParseError, ValueError) as exc:
            return _error(400, f'the body is not Payloads JSON ({{"payloads": [...]}}): {exc}')
        try:
            if action == "decode":
                await codec.decode_wrapper(payloads)
            else:
                await codec.encode_wrapper(payloads)
        except PayloadDecryptionError as exc:
            log.warning(
                "%s refused (namespace %s): %s",
                action,
                request.headers.get("x-namespace", "-"),
                exc,
            )
            return _error(400, str(exc))
        return Response(json_format.MessageToJson(payloads), media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/{path:path}", convert, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["POST"],
                allow_headers=list(ALLOWED_HEADERS),
                # The UI's "include cross-origin credentials" option needs this.
                allow_credentials=True,
                max_age=600,
            )
        ],
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fleet.codec_server",
        description="Decrypt payloads for the Temporal web UI and CLI with PAYLOAD_ENCRYPTION_KEY.",
        epilog="Then: temporal server start-dev --ui-codec-endpoint http://localhost:PORT",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        metavar="ORIGIN",
        help="web UI origin allowed to call this server; repeat for several "
        f"(default: {' and '.join(DEFAULT_UI_ORIGINS)})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"codec server: {exc}", file=sys.stderr)
        return 2
    if settings.payload_encryption_key is None:
        print(
            "codec server: PAYLOAD_ENCRYPTION_KEY is not set: export the key the workers "
            "use (64 hex digits), or put it in .env",
            file=sys.stderr,
        )
        return 2
    codec = EncryptionCodec(bytes.fromhex(settings.payload_encryption_key.get_secret_value()))
    origins = args.cors_origins or list(DEFAULT_UI_ORIGINS)
    print(
        f"Codec server  http://{args.host}:{args.port}  (key id {codec.key_id}; "
        f"CORS for {', '.join(origins)})",
        flush=True,
    )
    uvicorn.run(create_app(codec, cors_origins=origins), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
