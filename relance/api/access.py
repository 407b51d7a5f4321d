"""Who is calling: a bearer token looked up in the ledger on every request (a revoked one stops at once), the
role it needs, and a rate limit per token."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.datastructures import Headers

from relance.domain.access import Role, may
from relance.doors import Knock
from relance.ledger.api_tokens import Caller, caller_for


@dataclass
class Bucket:
    """A token bucket: `per_minute` requests a minute, bursts up to that many."""

    per_minute: int
    tokens: float = 0.0
    at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.per_minute)

    def take(self, now: float) -> float | None:
        """None when the request may go; else the seconds until it may."""
        self.tokens = min(float(self.per_minute), self.tokens + (now - self.at) * self.per_minute / 60)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) * 60 / self.per_minute


# Declares the scheme in the OpenAPI document; the token itself is read and checked by Gate.caller.
bearer = HTTPBearer(auto_error=False, description="an API token, made with `relance token create --role … --name …`")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


NO_TOKEN = "an API token is required: Authorization: Bearer <token> (relance token create)"
UNKNOWN = "this API token is unknown or revoked"


def bearer_token(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Gate:
    def __init__(self, engine: Engine, per_minute: int) -> None:
        self.engine = engine
        self.per_minute = per_minute
        self.buckets: dict[str, Bucket] = {}

    def caller(self, request: Request) -> Caller:
        token = bearer_token(request.headers.get("authorization", ""))
        if token is None:
            raise HTTPException(401, NO_TOKEN)
        return self.known(token)

    async def door_check(self, headers: Headers) -> str:
        """At the door (relance/doors.py), before the body is read: a token that is known, or 401."""
        token = bearer_token(headers.get("authorization", ""))
        if token is None:
            raise Knock(401, NO_TOKEN)
        found = await asyncio.to_thread(caller_for, self.engine, token)
        if found is None:
            raise Knock(401, UNKNOWN)
        return found.name

    def known(self, token: str) -> Caller:
        """The caller presenting `token` (header or the page's cookie), within its rate."""
        found = caller_for(self.engine, token)
        if found is None:
            raise HTTPException(401, UNKNOWN)
        bucket = self.buckets.setdefault(found.name, Bucket(self.per_minute))
        wait = bucket.take(time.monotonic())
        if wait is not None:
            raise HTTPException(
                429, f"more than {self.per_minute} requests a minute for this token", {"Retry-After": f"{wait:.0f}"}
            )
        return found

    def needs(self, role: Role) -> Callable[..., Caller]:
        """A route's dependency: a known token whose role is at least `role`."""

        def dependency(request: Request, _: Bearer) -> Caller:
            return self.allowed(self.caller(request), role)

        return dependency

    @staticmethod
    def allowed(caller: Caller, role: Role) -> Caller:
        if not may(caller.role, role):
            raise HTTPException(403, f"the {caller.role.value} role may not do this (needs {role.value})")
        return caller
