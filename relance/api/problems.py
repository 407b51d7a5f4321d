"""Errors as JSON problem documents (RFC 9457): a title, the status, and a detail that names what is wrong."""

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from temporalio.service import RPCError, RPCStatusCode

from relance.api.context import ApiContext
from relance.domain.errors import explain
from relance.domain.limits import bounded
from starter.connect import TemporalUnreachable

TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Refused by the case", 429: "Too many requests"}


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def invalid(err: ValidationError, prefix: tuple[str, ...] = ()) -> JSONResponse:
    """A 422 naming each refused field (dotted path) and why."""
    fields = [".".join(str(p) for p in (*prefix, *e["loc"])) or "body" for e in err.errors()]
    return problem(422, "Invalid input", explain(err), fields=fields)


def _named(error: Any) -> tuple[str, str]:
    """The field a validation error is about, in words, and why: a body that is not JSON is "body", never the
    character position FastAPI puts where a field name goes."""
    if error["type"] == "json_invalid":
        where = error["loc"][1] if len(error["loc"]) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", error["msg"])
        return "body", f"the body is not JSON: {reason} (at character {where})"
    return ".".join(str(p) for p in error["loc"][1:]) or "body", error["msg"]


class Refused(Exception):
    """A valid request the case (or the ledger) refuses: 409 with the reason."""


def install_problem_handlers(app: FastAPI, context: ApiContext) -> None:
    @app.exception_handler(HTTPException)
    async def http_problem(_: Request, exc: HTTPException) -> JSONResponse:
        response = problem(exc.status_code, TITLES.get(exc.status_code, "Error"), str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        named = [_named(e) for e in exc.errors()]
        detail = "; ".join(f"{field}: {why}" for field, why in named)
        return problem(422, "Invalid input", bounded(detail, 2000), fields=[field for field, _ in named])

    @app.exception_handler(ValidationError)
    async def model_invalid(_: Request, exc: ValidationError) -> JSONResponse:
        return invalid(exc)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return problem(409, TITLES[409], str(exc))

    @app.exception_handler(TemporalUnreachable)
    async def unreachable(_: Request, exc: TemporalUnreachable) -> JSONResponse:
        context.forget_client()
        return problem(503, "Temporal unreachable", str(exc))

    @app.exception_handler(RPCError)
    async def rpc(_: Request, exc: RPCError) -> JSONResponse:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            context.forget_client()
            return problem(503, "Temporal unreachable", f"Temporal did not answer: {bounded(exc.message, 300)}")
        return problem(502, "Temporal refused", bounded(exc.message, 500))
