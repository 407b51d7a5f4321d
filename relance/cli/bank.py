"""`relance bank import`: a bank statement reconciled against the cases, every entry once."""

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from relance.cli.mandates import mandate_app
from relance.cli.support import JsonFlag, fail, out, run
from relance.settings import get_settings

bank_app = typer.Typer(help="Bank statements: payments and returns reconciled from the bank.", no_args_is_help=True)
bank_app.add_typer(mandate_app, name="mandate")
FORMATS = ("camt053", "camt054", "cfonb120", "csv")


def _detect(data: bytes) -> str:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "camt054" if b"camt.054" in head[:2000] else "camt053"
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if len(first) == 120 and first.startswith(b"01"):
        return "cfonb120"
    fail(f"cannot tell the format of the file; give --format {'|'.join(FORMATS)}")


@bank_app.command("import")
def bank_import(
    file: Annotated[Path, typer.Argument(help="a CAMT.053/054 XML statement or a CFONB 120 file")],
    format_: Annotated[str | None, typer.Option("--format", help=" | ".join(FORMATS))] = None,
    mapping: Annotated[Path | None, typer.Option(help="a CSV export: the YAML that names its columns")] = None,
    account: Annotated[str | None, typer.Option(help="the account, for a CAMT file that names none")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Match each booked credit to invoices (or the customer, or a person), apply returned payments, and keep
    every entry with its decision in the ledger; entries already imported change nothing."""
    from relance.bank.camt import parse_camt
    from relance.bank.cfonb import parse_cfonb
    from relance.bank.csv_export import load_mapping, parse_csv
    from relance.bank.entries import StatementRefused
    from relance.ledger.db import engine_for
    from starter.bank_import import BankImportSummary, import_statement
    from starter.connect import connect

    if format_ is not None and format_ not in FORMATS:
        fail(f"--format {format_!r}: expected one of {', '.join(FORMATS)}")
    if (format_ == "csv") != (mapping is not None):
        fail("a CSV export needs --format csv and --mapping FILE (the YAML that names its columns)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"{file} cannot be read: {exc.strerror}")
    kind = format_ or _detect(data)
    try:
        if mapping is not None:
            statement = parse_csv(data, load_mapping(mapping))
        elif kind == "cfonb120":
            statement = parse_cfonb(data.decode("latin-1"))
        else:
            statement = parse_camt(data, account=account)
    except StatementRefused as exc:
        fail(f"{file.name} refused, nothing applied: {exc}")
    if kind.startswith("camt") and not statement.format.startswith(kind.replace("camt", "camt.")):
        fail(f"{file.name} is {statement.format}, not {kind}; nothing applied")
    settings = get_settings()

    async def go() -> BankImportSummary:
        return await import_statement(
            await connect(settings),
            engine_for(settings.database_url),
            statement,
            today=date.today(),
            task_queue=settings.task_queue,
        )

    summary = run(go())
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "statement": summary.statement,
                    "totals": summary.totals(),
                    "entries": [asdict(o) for o in summary.outcomes],
                },
                default=str,
            )
        )
        return
    table = Table("reference", "amount", "decision", "detail", title=f"Bank statement {summary.statement}")
    for o in summary.outcomes:
        table.add_row(o.reference, f"{o.amount:,.2f} {o.currency}", o.decision, o.detail)
    out.print(table)
    for decision, total in summary.totals().items():
        amounts = ", ".join(f"{a} {c}" for c, a in total["amounts"].items())
        out.print(f"{decision}: {total['count']} ({amounts})", highlight=False)
