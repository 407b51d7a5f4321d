"""API tokens over HTTP, for admins: the same ledger functions as `relance token`."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response

from relance.api.context import ApiContext
from relance.api.problems import Refused
from relance.domain.access import Role
from relance.domain.invoice import Strict
from relance.ledger.api_tokens import Caller, TokenError, TokenInfo, create_token, list_tokens, revoke_token


class NewToken(Strict):
    name: str
    role: Role


class MadeToken(Strict):
    name: str
    role: Role
    token: str  # shown once: only its hash is kept


def tokens_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["tokens"])
    admin = Depends(context.gate.needs(Role.admin))

    @router.get("/tokens", summary="Every API token: name, role, who made it, when it was revoked")
    async def listed(caller: Annotated[Caller, admin]) -> list[TokenInfo]:
        return list_tokens(context.engine)

    @router.post("/tokens", status_code=201, summary="Make a token (its value is in this answer only)")
    async def make(wanted: NewToken, caller: Annotated[Caller, admin]) -> MadeToken:
        try:
            token = create_token(context.engine, wanted.name, wanted.role, f"api:{caller.name}")
        except TokenError as err:
            raise Refused(str(err)) from None
        return MadeToken(name=wanted.name, role=wanted.role, token=token)

    @router.delete("/tokens/{name}", status_code=204, summary="Revoke a token: it stops working at once")
    async def revoke(name: str, caller: Annotated[Caller, admin]) -> Response:
        if not revoke_token(context.engine, name):
            raise HTTPException(404, f"no active token named {name[:120]!r}")
        return Response(status_code=204)

    return router
