"""`relance einvoicing`: the French e-invoicing platforms' lifecycle statuses in, the CDAR we owe them out."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from relance.cli.support import JsonFlag, fail, out, run, who
from relance.settings import get_settings

einvoicing_app = typer.Typer(
    help="E-invoicing platforms: import statuses (CDAR), send what we owe (212 Encaissée), list the statuses.",
    no_args_is_help=True,
)


@einvoicing_app.command("import")
def import_statuses(
    path: Annotated[Path, typer.Argument(exists=True, help="a CDAR message, or the folder the platform drops them in")],
    as_json: JsonFlag = False,
) -> None:
    """Each status once on its invoice's case; an unknown code or invoice is kept for a person (a task)."""
    from relance.ledger.db import engine_for
    from starter.connect import connect
    from starter.einvoicing import apply_statuses, read_statuses

    settings = get_settings()
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".xml") if path.is_dir() else [path]
    if not files:
        fail(f"nothing imported: no CDAR (.xml) in {path}")
    statuses, refused = read_statuses([(f.name, f.read_bytes()) for f in files])

    async def go() -> Any:
        return await apply_statuses(await connect(settings), engine_for(settings.database_url), statuses, who(None))

    outcomes = [*refused, *run(go())]
    if as_json:
        json.dump([o.as_dict() for o in outcomes], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for o in outcomes:
            colour = {"refused": "red", "kept": "yellow"}.get(o.outcome, "green")
            line = f"[{colour}]{o.outcome}[/] {escape(o.source)}: {escape(o.invoice or '-')}: {escape(o.detail)}"
            out.print(line, highlight=False, markup=True)
    if refused:
        raise typer.Exit(1)


@einvoicing_app.command("send")
def send() -> None:
    """Write the CDAR we owe to RELANCE_EINVOICING_OUTBOX_DIR and post them to the platform when
    RELANCE_EINVOICING_PLATFORM_URL is set (the worker does this every minute; this does it now)."""
    from relance.ledger.db import engine_for
    from starter.einvoicing import send_outbox

    settings = get_settings()
    done = run(send_outbox(engine_for(settings.database_url), settings))
    out.print(f"{done} CDAR settled (sent, written, or failed for good)", highlight=False)


@einvoicing_app.command("outbox")
def outbox(
    invoice: Annotated[str | None, typer.Option(help="only this invoice's")] = None, as_json: JsonFlag = False
) -> None:
    """The CDAR we owe, and what became of each (pending, sent, failed, with the platform's answer)."""
    from relance.ledger.db import engine_for
    from relance.ledger.einvoices import outbox_rows

    rows = outbox_rows(engine_for(get_settings().database_url), invoice)
    if as_json:
        fields = ("key", "invoice_id", "code", "amount", "currency", "state", "path", "attempts", "answer")
        json.dump([{f: str(getattr(r, f)) for f in fields} for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for r in rows:
        out.print(
            f"{r.code} {r.invoice_id} {r.amount} {r.currency} {r.state} ({r.attempts}): {r.answer or ''}",
            highlight=False,
        )
