"""API tokens in the ledger: made, listed, revoked, and looked up by the HTTP API on every request."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relance.domain.access import Role
from relance.domain.limits import printable
from relance.ledger.db import ApiToken, revoke

PREFIX = "rlt_"  # recognisable in a leaked log or a secret scanner


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: Engine, name: str, role: Role, by: str | None) -> str:
    """A new token for `name` (shown once: only its hash is kept)."""
    clean = printable(name, 120)
    if not clean or clean != name:
        raise TokenError("the name must be 1 to 120 printable characters (it is recorded on every action)")
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with Session(engine) as session, session.begin():
            session.add(ApiToken(name=name, role=role.value, token_hash=digest(token), created_by=by))
    except IntegrityError:
        raise TokenError(f"a token named {name!r} exists; revoke it or choose another name") from None
    return token


def revoke_token(engine: Engine, name: str) -> bool:
    return revoke(engine, ApiToken.name, name)


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with Session(engine) as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.name))
        return [TokenInfo(r.name, r.role, r.created_at, r.created_by, r.revoked_at) for r in rows]


def caller_for(engine: Engine, token: str) -> Caller | None:
    """Who presents this token, or None (unknown or revoked): read on every request, so a revocation is
    immediate."""
    if not token.startswith(PREFIX):
        return None
    with Session(engine) as session:
        row = session.scalar(
            select(ApiToken).where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
        )
        return Caller(row.name, Role(row.role)) if row is not None else None
