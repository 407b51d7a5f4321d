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


@bank_app.command("import")
def bank_import(
    file: Annotated[Path, typer.Argument(help="a CAMT.053/054 XML statement or a CFONB 120 file")],
    format_: Annotated[str | None, typer.Option("--format", help="camt053 | camt054 | cfonb120 | csv")] = None,
    mapping: Annotated[Path | None, typer.Option(help="a CSV export: the YAML that names its columns")] = None,
    account: Annotated[str | None, typer.Option(help="the account, for a CAMT file that names none")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Match each booked credit to invoices (or the customer, or a person), apply returned payments, and keep
    every entry with its decision in the ledger; entries already imported change nothing."""
    from relance.bank.csv_export import load_mapping
    from relance.bank.entries import StatementRefused
    from relance.bank.reading import read_statement, unknown_accounts
    from relance.ledger.db import engine_for
    from starter.bank_import import BankImportSummary, import_statement
    from starter.connect import connect

    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"{file} cannot be read: {exc.strerror}")
    try:
        read_mapping = load_mapping(mapping) if mapping is not None else None
        statement = read_statement(data, format_=format_, mapping=read_mapping, account=account)
    except StatementRefused as exc:
        fail(f"{file.name} refused, nothing applied: {exc}")
    settings = get_settings()
    if foreign := unknown_accounts(statement, settings.our_bank_accounts):
        fail(f"{file.name} refused, nothing applied: account {', '.join(foreign)} is not one of ours "
             "(RELANCE_BANK_ACCOUNTS)")  # fmt: skip

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


@bank_app.command("watch")
def bank_watch(
    folder: Annotated[Path, typer.Option("--dir", help="where the bank connection drops statement files")],
    archive: Annotated[Path | None, typer.Option(help="where taken files go (default: DIR/archive)")] = None,
    at: Annotated[str, typer.Option(help="the time each business morning, Paris (HH:MM)")] = "07:00",
    settle: Annotated[int, typer.Option(help="seconds a file must be left unchanged before it is read")] = 120,
    now: Annotated[bool, typer.Option("--now", help="also run it once right away")] = False,
) -> None:
    """Set up (or move) the Temporal Schedule that imports every new statement in DIR each business morning,
    archives it, and raises a task when an account's statement does not come; `--now` runs it at once too."""
    from relance.domain.bank_watch import WATCH_SCHEDULE_ID, WatchRequest
    from starter.bank_watch import set_up_watch
    from starter.connect import connect

    hour, _, minute = at.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        fail(f"--at {at!r} is not a time HH:MM")
    if not folder.is_dir():
        fail(f"--dir {folder} is not a folder")
    if not 0 <= settle <= 86_400:
        fail(f"--settle {settle}: from 0 to 86400 seconds")
    request = WatchRequest(folder=str(folder.resolve()), archive=str((archive or folder / "archive").resolve()),
                           settle_seconds=settle)  # fmt: skip
    settings = get_settings()

    async def go() -> str:
        client = await connect(settings)
        done = await set_up_watch(client, request, hour=int(hour), minute=int(minute), task_queue=settings.task_queue)
        if now:
            await client.get_schedule_handle(WATCH_SCHEDULE_ID).trigger()
        return done

    done = run(go())
    out.print(f"schedule {WATCH_SCHEDULE_ID} {done}: {request.folder} each business day at {at} (Europe/Paris), "
              f"archived in {request.archive}{'; running now' if now else ''}", highlight=False)  # fmt: skip
