"""`relance codec-server`: Temporal's remote codec endpoint, so that the Web UI shows cases decrypted.

The UI posts `{"payloads": [...]}` (Temporal's Payloads message as proto JSON) to `/decode` (and `/encode`)
from the operator's browser. Only the UI's own origins may call it from a page (CORS), and every call must
carry one of the configured bearer tokens: decrypted payloads are debtors' personal data.
"""

import hmac
import json
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from starlette.datastructures import Headers
from temporalio.api.common.v1 import Payload, Payloads

from relance.doors import Door, Doors, Knock, Limits
from relance.encryption import EncryptionCodec, UndecryptablePayload

MAX_BODY_BYTES = 8 * 1024 * 1024


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def codec_app(
    codec: EncryptionCodec,
    *,
    tokens: Sequence[str],
    origins: Sequence[str],
    open_on_loopback: bool = False,
    max_bytes: int = MAX_BODY_BYTES,
    limits: Limits | None = None,
) -> FastAPI:
    """`open_on_loopback` serves without a token: only for a demo on one machine, whose UI has no login to
    pass a token from (the command refuses it on any other address). The token is checked at the door, before
    a byte of the body is read (relance/doors.py)."""
    if not tokens and not open_on_loopback:
        raise ValueError("the codec server needs RELANCE_CODEC_SERVER_TOKENS: it hands out debtors' data")
    app = FastAPI(title="Relance codec server", openapi_url=None, docs_url=None, redoc_url=None)
    expected = [f"Bearer {t}".encode() for t in tokens]

    async def token(headers: Headers) -> str:
        given = headers.get("authorization", "").encode()
        for n, candidate in enumerate(expected):
            if hmac.compare_digest(given, candidate):
                return f"codec-token-{n}"
        if open_on_loopback:
            return "demo"
        raise Knock(401, "a bearer token of RELANCE_CODEC_SERVER_TOKENS is required")

    payloads = Door("a batch of payloads", max_bytes, token)
    public = Door("this page", 1024)

    def door_for(method: str, path: str) -> Door:
        return public if path == "/health" or method == "OPTIONS" else payloads  # OPTIONS: the CORS preflight

    async def transform(request: Request, apply: Callable[[list[Payload]], Awaitable[list[Payload]]]) -> Response:
        body = await request.body()  # read at the door already: within max_bytes, from a known caller
        try:
            payloads = json_format.Parse(body, Payloads())
        except json_format.ParseError as err:
            return problem(400, f"not Temporal Payloads JSON: {str(err)[:200]}")
        try:
            result = await apply(list(payloads.payloads))
        except UndecryptablePayload as err:
            return problem(422, str(err))
        text = json_format.MessageToJson(Payloads(payloads=result), indent=None)
        return Response(text, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        """For the container's health check: says nothing about the keys."""
        return {"status": "ok"}

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await transform(request, codec.decode)

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await transform(request, codec.encode)

    app.add_middleware(Doors, door_for=door_for, limits=limits or Limits())
    app.add_middleware(  # outermost: a refusal at the door still carries the CORS headers the UI needs
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )
    return app


def problem(status: int, detail: str) -> Response:
    return Response(
        json.dumps({"status": status, "detail": detail}), status_code=status, media_type="application/problem+json"
    )
