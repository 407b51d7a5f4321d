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
from temporalio.api.common.v1 import Payload, Payloads

from relance.encryption import EncryptionCodec, UndecryptablePayload

MAX_BODY_BYTES = 8 * 1024 * 1024


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def codec_app(
    codec: EncryptionCodec, *, tokens: Sequence[str], origins: Sequence[str], open_on_loopback: bool = False
) -> FastAPI:
    """`open_on_loopback` serves without a token: only for a demo on one machine, whose UI has no login to
    pass a token from (the command refuses it on any other address)."""
    if not tokens and not open_on_loopback:
        raise ValueError("the codec server needs RELANCE_CODEC_SERVER_TOKENS: it hands out debtors' data")
    app = FastAPI(title="Relance codec server", openapi_url=None, docs_url=None, redoc_url=None)
    expected = [f"Bearer {t}".encode() for t in tokens]

    def authorized(request: Request) -> bool:
        if open_on_loopback:
            return True
        given = request.headers.get("authorization", "").encode()
        return any(hmac.compare_digest(given, e) for e in expected)

    async def transform(request: Request, apply: Callable[[list[Payload]], Awaitable[list[Payload]]]) -> Response:
        if not authorized(request):
            return problem(401, "a bearer token of RELANCE_CODEC_SERVER_TOKENS is required")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return problem(413, f"at most {MAX_BODY_BYTES:,} bytes of payloads at once")
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

    app.add_middleware(
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
