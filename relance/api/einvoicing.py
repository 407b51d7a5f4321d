"""`POST /einvoicing/statuses`: the platform's lifecycle statuses (a CDAR message as the body), posted by the
platform itself (its credential, RELANCE_EINVOICING_INBOUND_SECRET, as a bearer) or by a collector's token.
Each status is applied once on its invoice's case or kept for a person, as `relance einvoicing import` does."""

import hmac
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import Headers

from relance.api.access import bearer_token
from relance.api.context import ApiContext
from relance.domain.access import Role
from relance.doors import Check
from starter.einvoicing import apply_statuses, read_statuses

STATUSES_PATH = "/einvoicing/statuses"
MAX_CDAR_BODY = 2 * 1024 * 1024
PLATFORM = "e-invoicing platform"


def _platform(context: ApiContext, headers: Headers) -> bool:
    secret, token = context.settings.einvoicing_inbound_secret, bearer_token(headers.get("authorization", ""))
    return secret is not None and token is not None and hmac.compare_digest(token, secret.get_secret_value())


def einvoicing_door(context: ApiContext) -> Check:
    """The platform's credential, or a known token (its role is checked by the route)."""

    async def check(headers: Headers) -> str:
        if _platform(context, headers):
            return PLATFORM
        return await context.gate.door_check(headers)

    return check


def einvoicing_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["e-invoicing"])

    @router.post(
        STATUSES_PATH,
        summary="Lifecycle statuses from the e-invoicing platform (a CDAR message): each applied once, or kept",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/xml": {"schema": {"type": "string"}}}}
        },
    )
    async def statuses(request: Request) -> list[dict[str, Any]]:
        if _platform(context, request.headers):
            by = PLATFORM
        else:
            caller = context.gate.allowed(context.gate.caller(request), Role.collector)
            by = f"api:{caller.name}"
        if not request.headers.get("content-type", "").lower().startswith(("application/xml", "text/xml")):
            raise HTTPException(415, "post the CDAR message as application/xml")
        found, refused = read_statuses([("body", await request.body())])
        if refused:
            raise HTTPException(422, refused[0].detail)
        outcomes = await apply_statuses(await context.temporal(), context.engine, found, by)
        return [o.as_dict() for o in outcomes]

    return router
