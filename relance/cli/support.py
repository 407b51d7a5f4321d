"""What every `relance` command shares: output, parsing of dates and amounts, sending an ops action."""

import asyncio
import contextlib
import getpass
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from relance.domain.actions import (
    Action,
)
from relance.domain.case_view import CaseStatus
from relance.domain.errors import explain
from relance.domain.limits import decimal_text
from relance.settings import get_settings

# Markup is off by default: names, reasons and ids come from other systems, and a "[/x]" in one of them
# would crash rich's markup parser (or style the output). Styled lines opt in and escape what they quote.
out = Console(markup=False)
err = Console(stderr=True, markup=False)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
By = Annotated[str | None, typer.Option("--by", help="who does it (default: your login)")]
Cause = Annotated[
    str | None,
    typer.Option(
        "--cause",
        help="why the invoice is paid late: forgot | cash_flow | dispute | wrong_contact | insolvency | "
        "billing_error | awaiting_po | other",
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True
    )  # one line to grep
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{what} {text!r} is not a date (YYYY-MM-DD)")


def parse_amount(text: str, what: str = "amount") -> Decimal:
    """An amount typed by a person: 1250.50 or 1250,50, checked as the contract checks every amount."""
    try:
        return decimal_text(text.replace(",", "."))
    except ValueError as exc:
        fail(f"{what}: {exc}")


def working(what: str) -> Any:
    """A spinner on a terminal's stderr while a long command works; nothing when output is piped."""
    return err.status(what) if err.is_terminal else contextlib.nullcontext()


def who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except OSError:
        return "cli"


def build(action_type: type[Action], **fields: Any) -> Action:
    try:
        return action_type.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        fail(f"{action_type.name}: {explain(exc)}")


# ---- showing a case -----------------------------------------------------------------------------------


def show_status(status: CaseStatus, as_json: bool, *, history: int = 12) -> None:
    if as_json:
        out.print_json(status.model_dump_json())
        return
    from relance.domain.conversation import exchange_of
    from relance.domain.money import format_money

    zone = ZoneInfo(status.timezone)

    def money(amount: Decimal) -> str:
        return format_money(amount, status.currency, "fr")

    def when(at: datetime) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    out.print(
        f"[bold]Invoice {escape(status.invoice_id)}[/]  stage [cyan]{status.stage}[/]  state {status.state}"
        + (f"  outcome [green]{status.outcome}[/]" if status.outcome else ""),
        highlight=False,
        markup=True,
    )
    paid = f", paid {money(status.total_paid)}" if status.total_paid else ""
    credited = f", credited {money(status.credited)}" if status.credited else ""
    over = f", overpaid {money(status.overpaid)}" if status.overpaid else ""
    out.print(
        f"Balance {money(status.balance)} of {money(status.amount)}{paid}{credited}{over} · "
        f"due {status.due_date} · {status.days_late} days late · policy {status.policy}",
        highlight=False,
    )
    if status.pause_reason:
        until = f" until {status.paused_until}" if status.paused_until else ""
        out.print(f"Paused: {status.pause_reason}{until}", highlight=False)
    if status.waiting_for:
        out.print(f"Waiting for: {status.waiting_for}", highlight=False)
    if status.formal_notice:
        notice = status.formal_notice
        delivered = f", delivered {notice.delivered_on}, deadline {notice.deadline}" if notice.delivered_on else ""
        out.print(f"Formal notice sent {notice.sent_on} ({notice.letter_id}){delivered}", highlight=False)
    if status.court:
        out.print(
            f"Court: {status.court.court}, {status.court.status} · dossier {status.court.dossier}", highlight=False
        )
    if status.agency:
        agency = status.agency
        out.print(
            f"Agency: {agency.agency} (mandate {agency.mandate_reference}), collected {money(agency.collected)}, "
            f"commission {money(agency.commission)}",
            highlight=False,
        )
    flags = [f"e-mail invalid ({status.flags.email_invalid})"] if status.flags.email_invalid else []
    flags += [f"address invalid ({status.flags.address_invalid})"] if status.flags.address_invalid else []
    if flags:
        out.print(f"[yellow]Contact:[/] {escape('; '.join(flags))}", highlight=False, markup=True)
    if status.limitation_date:
        out.print(f"Limitation: the claim is time-barred on {status.limitation_date}", highlight=False)
    if status.next_step:
        nxt = status.next_step
        action = f" ({nxt.action})" if nxt.action else ""
        line = f"Next: {nxt.kind} [bold]{escape(nxt.id)}[/]{action} at {when(nxt.at)} {status.timezone}"
        out.print(line, highlight=False, markup=True)
    talk = [(e, exchange_of(status.invoice_id, e.event, e.detail, e.data, e.at)) for e in status.history]
    spoken = [(entry, said) for entry, said in talk if said is not None]
    if spoken:
        conversation = Table("when", "", "what", title="conversation with the debtor", title_justify="left")
        for entry, said in spoken[-history:]:
            text = entry.data.get("text") if said.kind == "replied" else None
            detail = f"{entry.detail}\n{text}" if text else entry.detail
            conversation.add_row(when(entry.at), said.kind, detail)
        out.print(conversation)
    table = Table("when", "event", "detail", "by", title=f"last {history} events", title_justify="left")
    for entry in status.history[-history:]:
        table.add_row(when(entry.at), entry.event, entry.detail, entry.by or "")
    out.print(table)


def act(invoice: str, action: Action, as_json: bool) -> None:
    """Send an ops action; a refusal ends the command with its reason and is kept in the ledger."""
    from relance.ledger.db import engine_for
    from starter.connect import connect
    from starter.ops import ActionRejected, UnknownCase, act_or_keep_refusal

    settings = get_settings()
    if action.by is None:
        action = action.model_copy(update={"by": who(None)})

    async def go() -> CaseStatus:
        client, engine = await connect(settings), engine_for(settings.database_url)
        return await act_or_keep_refusal(client, engine, invoice, action, task_queue=settings.task_queue)

    try:
        status = run(go())
    except (UnknownCase, ActionRejected) as exc:
        fail(str(exc), 2 if isinstance(exc, UnknownCase) else 1)
    show_status(status, as_json)


def on_case(call: Callable[[Any], Awaitable[CaseStatus]], as_json: bool) -> None:
    """Run one call on a case with a Temporal client; a refusal or an unknown case ends the command with
    its reason, else the case's status is shown."""
    from starter.connect import connect
    from starter.ops import ActionRejected, UnknownCase

    async def go() -> CaseStatus:
        return await call(await connect(get_settings()))

    try:
        status = run(go())
    except (UnknownCase, ActionRejected) as exc:
        fail(str(exc), 2 if isinstance(exc, UnknownCase) else 1)
    show_status(status, as_json)


def keep_rejections(rejections: list[Any]) -> None:
    """Refused input goes to the ledger; a ledger that can't be reached must not hide the refusal itself."""
    from sqlalchemy.exc import SQLAlchemyError

    from relance.ledger.db import engine_for
    from relance.ledger.rejections import keep_rejections as keep

    try:
        failed = keep(engine_for(get_settings().database_url), rejections)
    except SQLAlchemyError as exc:  # the ledger could not even be opened
        failed = str(exc)
    if failed is not None:
        err.print(
            f"[yellow]warning:[/] the refusal was not written to the ledger: {escape(failed)}",
            highlight=False,
            markup=True,
        )
