"""`relance token`: API tokens for other systems and people (HTTP API, `relance serve`)."""

import json
from typing import Annotated

import typer
from rich.markup import escape

from relance.cli.support import JsonFlag, err, fail, out, who
from relance.settings import get_settings

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="sales | collector | legal | admin")],
    name: Annotated[str, typer.Option(help="who uses it; recorded on every action the token takes")],
) -> None:
    """Make a token; it is printed once and only its hash is kept."""
    from relance.domain.access import Role
    from relance.ledger.api_tokens import TokenError, create_token
    from relance.ledger.db import engine_for

    try:
        chosen = Role(role)
    except ValueError:
        fail(f"--role: {role[:40]!r} is not one of {', '.join(r.value for r in Role)}")
    try:
        token = create_token(engine_for(get_settings().database_url), name, chosen, who(None))
    except TokenError as exc:
        fail(str(exc))
    err.print(f"token for {escape(name)} ({chosen.value}); shown once, keep it in a secret store:", highlight=False)
    out.print(token, highlight=False, soft_wrap=True)


@token_app.command("revoke")
def revoke(name: str) -> None:
    """Revoke a token at once."""
    from relance.ledger.api_tokens import revoke_token
    from relance.ledger.db import engine_for

    if not revoke_token(engine_for(get_settings().database_url), name):
        fail(f"no active token named {name!r}")
    out.print(f"revoked {escape(name)}", highlight=False)


@token_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every token: name, role, when made and by whom, revoked or not (never the token)."""
    from relance.ledger.api_tokens import list_tokens
    from relance.ledger.db import engine_for

    tokens = list_tokens(engine_for(get_settings().database_url))
    if as_json:
        rows = [
            {"name": t.name, "role": t.role, "created_at": t.created_at.isoformat(), "created_by": t.created_by,
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
            for t in tokens
        ]  # fmt: skip
        out.print_json(json.dumps(rows))
        return
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        out.print(f"{escape(t.name)}  {t.role}  made {t.created_at:%Y-%m-%d} by {t.created_by or '?'}  {state}")
