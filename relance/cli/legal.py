"""`relance statement`, and the legal ops actions: letters, court outcomes, agency reports."""

import json
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from relance.cli.support import By, JsonFlag, act, build, fail, out, parse_amount, parse_date, run, who
from relance.domain.actions import (
    AgencyUpdate,
    CourtOrderIssued,
    EmailBounced,
    JudgmentPaid,
    MailReturned,
    OppositionFiled,
    OrderServed,
    RegisteredLetterDelivered,
)
from relance.domain.case_view import CaseStatus
from relance.settings import get_settings

letter_app = typer.Typer(
    help="Registered letters and bounced e-mails: proof of delivery, returns.", no_args_is_help=True
)
court_app = typer.Typer(help="The court's outcomes for a case whose dossier was filed.", no_args_is_help=True)
agency_app = typer.Typer(help="Reports from the collection agency holding a case.", no_args_is_help=True)

OnDate = Annotated[str, typer.Option("--on", help="YYYY-MM-DD")]


def statement(
    invoice: str,
    at: Annotated[str | None, typer.Option(help="date of the statement, YYYY-MM-DD (default today)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The statement of account (décompte de créance) of a running case: principal, each interest period
    with its rate and days, the indemnity, payments, total due at a date."""
    from relance.domain.penalties import MissingRate, Statement, statement_dict
    from relance.rendering.documents import fmt, reminder_line, statement_lines, total_label
    from starter.connect import connect
    from starter.ops import ActionRejected, UnknownCase
    from starter.statements import statement_at

    settings = get_settings()
    day = parse_date(at, "--at") if at else date.today()

    async def go() -> tuple[CaseStatus, Statement]:
        return await statement_at(await connect(settings), invoice, day, settings.rates_file)

    try:
        status, result = run(go())
    except (UnknownCase, ActionRejected) as exc:
        fail(str(exc), 2)
    except MissingRate as exc:
        fail(f"no statement at {day}: {exc} ({settings.rates_file})")
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        out.print_json(json.dumps(statement_dict(result)))
        return
    table = Table("", "amount", title=f"Statement of account · invoice {invoice}", title_justify="left")
    for line in statement_lines(result, "fr"):
        table.add_row(line.label, fmt(line.amount, result, "fr"))
    table.add_row(
        Text(total_label(result, "fr"), style="bold"), Text(fmt(result.total_due, result, "fr"), style="bold")
    )
    out.print(table)
    out.print(
        f"due: principal {result.principal_due}, interest {result.interest_due}, indemnity {result.indemnity_due} "
        f"{result.currency}; {result.interest_note}; limitation {status.limitation_date}",
        highlight=False,
    )
    if result.reminders:
        out.print("Relances :", highlight=False)
        for sent in result.reminders:
            out.print(
                f"  {sent.at.astimezone(ZoneInfo(status.timezone)):%d/%m/%Y} {reminder_line(sent, status.timezone)}",
                highlight=False,
            )


@letter_app.command("delivered")
def letter_delivered(
    invoice: str,
    tracking: Annotated[str, typer.Option(help="tracking number of the registered letter")],
    on: OnDate,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Proof of delivery of the formal notice: its deadline runs from this day."""
    action = build(RegisteredLetterDelivered, tracking_number=tracking, delivered_on=parse_date(on, "--on"), by=who(by))
    act(invoice, action, as_json)


@letter_app.command("returned")
def letter_returned(
    invoice: str,
    reason: Annotated[str, typer.Option(help="NPAI, refused, unclaimed…")],
    on: OnDate,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """A letter came back: the address is flagged and the formal notice waits for a new one."""
    act(invoice, build(MailReturned, reason=reason, returned_on=parse_date(on, "--on"), by=who(by)), as_json)


@letter_app.command("bounced")
def email_bounced(
    invoice: str, reason: Annotated[str, typer.Option()], by: By = None, as_json: JsonFlag = False
) -> None:
    """An e-mail bounced: the address is flagged and the next e-mail steps become calls."""
    act(invoice, build(EmailBounced, reason=reason, by=who(by)), as_json)


@court_app.command("order")
def court_order(
    invoice: str, reference: Annotated[str, typer.Option()], on: OnDate, by: By = None, as_json: JsonFlag = False
) -> None:
    """The judge issued the injonction de payer."""
    act(invoice, build(CourtOrderIssued, reference=reference, issued_on=parse_date(on, "--on"), by=who(by)), as_json)


@court_app.command("served")
def court_served(invoice: str, on: OnDate, by: By = None, as_json: JsonFlag = False) -> None:
    """The order was served on the debtor (within six months of issue)."""
    act(invoice, build(OrderServed, served_on=parse_date(on, "--on"), by=who(by)), as_json)


@court_app.command("opposition")
def court_opposition(invoice: str, on: OnDate, by: By = None, as_json: JsonFlag = False) -> None:
    """The debtor opposed the order: the claim goes to trial."""
    act(invoice, build(OppositionFiled, filed_on=parse_date(on, "--on"), by=who(by)), as_json)


@court_app.command("paid")
def court_paid(
    invoice: str,
    amount: str,
    reference: Annotated[str, typer.Option()],
    on: OnDate,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """The debtor paid under the order or judgment."""
    action = build(
        JudgmentPaid, amount=parse_amount(amount), reference=reference, paid_on=parse_date(on, "--on"), by=who(by)
    )
    act(invoice, action, as_json)


@agency_app.command("report")
def agency_report(
    invoice: str,
    status: Annotated[str, typer.Option(help="the agency's words for where it stands")],
    on: OnDate,
    collected: Annotated[str, typer.Option(help="collected since its last report")] = "0",
    final: Annotated[bool, typer.Option("--final", help="the agency closes its file")] = False,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """A report from the agency: what it collected (a payment on the case) and whether it is done."""
    action = build(
        AgencyUpdate,
        status=status,
        collected_amount=parse_amount(collected, "--collected"),
        reported_on=parse_date(on, "--on"),
        final=final,
        by=who(by),
    )
    act(invoice, action, as_json)
