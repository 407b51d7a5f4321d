"""The portfolio from the ledger and Temporal: case search, a customer's standing, the work queue, reports."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from relance.cli.support import (
    By,
    Cause,
    JsonFlag,
    err,
    fail,
    out,
    parse_amount,
    parse_date,
    run,
    show_status,
    who,
    working,
)
from relance.domain.case_view import CaseStatus
from relance.domain.task_outcome import TASK_OUTCOMES, TaskOutcome
from relance.settings import get_settings

views_app = typer.Typer()


@views_app.command()
def cases(
    stage: Annotated[list[str] | None, typer.Option(help="collection stage (repeat for several)")] = None,
    customer: Annotated[str | None, typer.Option(help="customer id")] = None,
    policy: Annotated[str | None, typer.Option(help="policy name")] = None,
    min_amount: Annotated[str | None, typer.Option(help="amount due at least")] = None,
    max_amount: Annotated[str | None, typer.Option(help="amount due at most")] = None,
    overdue_days: Annotated[int | None, typer.Option(help="due at least this many days ago")] = None,
    disputed: Annotated[bool | None, typer.Option("--disputed/--not-disputed", help="only (not) disputed")] = None,
    include_closed: Annotated[bool, typer.Option("--all", help="closed cases too")] = False,
    limit: Annotated[int, typer.Option(help="at most this many cases")] = 200,
    show_query: Annotated[bool, typer.Option("--query", help="print the visibility query (for the Web UI)")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Cases from Temporal visibility, filtered like the Web UI."""
    from starter.case_search import CaseFilter, list_cases, visibility_query
    from starter.connect import connect

    wanted = CaseFilter(
        stages=tuple(stage or ()),
        customer_id=customer,
        policy=policy,
        min_amount=parse_amount(min_amount, "--min-amount") if min_amount else None,
        max_amount=parse_amount(max_amount, "--max-amount") if max_amount else None,
        overdue_days=overdue_days,
        disputed=disputed,
        include_closed=include_closed,
    )
    query = visibility_query(wanted, date.today())
    if show_query:
        err.print(query, highlight=False, soft_wrap=True)

    async def go() -> list[Any]:
        return await list_cases(await connect(get_settings()), query, limit)

    with working("searching cases"):
        found = run(go())
    if as_json:
        out.print_json(json.dumps([c.as_dict() for c in found], default=str))
        return
    table = Table(title="cases")
    for column in ("invoice", "customer", "stage", "due", "amount due", "policy", "next action"):
        table.add_column(column, no_wrap=column in ("invoice", "due", "amount due"))
    for c in found:
        amount = f"{c.amount_due:,.2f} {c.currency}" if c.amount_due is not None else ""
        nxt = c.next_action_at.astimezone().strftime("%Y-%m-%d %H:%M") if c.next_action_at else ""
        stage_shown = c.stage if c.status == "running" else f"{c.stage} ({c.status})"
        table.add_row(
            c.invoice_id, c.customer_id or "", stage_shown or "", str(c.due_date or ""), amount, c.policy or "", nxt
        )
    out.print(table)
    out.print(f"{len(found)} case(s)", highlight=False)


@views_app.command()
def customer(
    customer_id: str,
    as_of: Annotated[str | None, typer.Option(help="date of the view, YYYY-MM-DD (default today)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """A customer's open cases, balance and payment behaviour (from the ledger)."""
    from relance.ledger.customer_view import UnknownCustomer, customer_view
    from relance.ledger.db import engine_for

    day = parse_date(as_of, "--as-of") if as_of else date.today()
    try:
        with working(f"reading {customer_id} from the ledger"):
            view = customer_view(engine_for(get_settings().database_url), customer_id, day)
    except UnknownCustomer as exc:
        fail(str(exc), 2)
    if as_json:
        out.print_json(json.dumps(view.as_dict(), default=str))
        return
    balance = ", ".join(f"{amount:,.2f} {currency}" for currency, amount in view.balance.items()) or "nothing"
    heading = f"[bold]{escape(view.name)}[/] ({escape(view.customer_id)}) at {view.as_of}: {balance} open"
    out.print(heading, highlight=False, markup=True)
    table = Table("invoice", "due", "days late", "amount", "balance", "stage", title="open cases")
    for c in view.open_cases:
        table.add_row(
            c.invoice_id,
            str(c.due_date),
            str(c.days_late),
            f"{c.amount:,.2f} {c.currency}",
            f"{c.balance:,.2f} {c.currency}",
            c.stage,
        )
    out.print(table)

    def days(value: Decimal | None) -> str:
        return f"{value} days" if value is not None else "n/a"

    out.print(
        f"{view.cases} invoices in the ledger, {view.payments} payments; average days late: "
        f"{days(view.average_days_late_paid)} when paid, {days(view.average_days_late_open)} on open overdue invoices",
        highlight=False,
    )
    out.print(
        f"promises: {view.promises_made} made, {view.promises_kept} kept, {view.promises_broken} broken; "
        f"disputes: {view.disputes_opened} opened, {view.disputes_open} open now",
        highlight=False,
    )
    since = f" since {view.good_standing_since}" if view.good_standing_since else ""
    out.print(f"standing: [bold]{escape(view.standing)}[/]{since}", highlight=False, markup=True)
    if view.lateness_causes:
        causes = ", ".join(f"{cause} ({n})" for cause, n in view.lateness_causes.items())
        out.print(f"causes of lateness: {causes}", highlight=False)
    out.print(f"risk: [bold]{view.risk.level}[/] (score {view.risk.score} of 100)", highlight=False, markup=True)
    for reason in view.risk.reasons:
        out.print(f"  - {reason}", highlight=False)


task_app = typer.Typer(help="Complete a task of the work queue.", no_args_is_help=True)
views_app.add_typer(task_app, name="task")


@views_app.command()
def tasks(
    due: Annotated[str, typer.Option(help="today | overdue | open | all")] = "open",
    assignee: Annotated[str | None, typer.Option(help="only this person or team")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The work queue: calls and other manual steps, by due date."""
    from relance.ledger.db import engine_for
    from relance.ledger.work_queue import list_tasks

    if due not in ("today", "overdue", "open", "all"):
        fail(f"--due {due!r}: expected today, overdue, open or all")
    found = list_tasks(
        engine_for(get_settings().database_url),
        today=date.today(),
        due=due,  # type: ignore[arg-type]
        assignee=assignee,
    )
    if as_json:
        out.print_json(json.dumps([vars(t) for t in found], default=str))
        return
    table = Table("#", "due", "assignee", "invoice", "customer", "phone", "status", title=f"tasks ({due})")
    for t in found:
        late = t.status == "open" and t.due_on < date.today()
        table.add_row(
            str(t.id),
            Text.assemble(str(t.due_on), (" (late)", "red") if late else ""),
            t.assignee,
            t.invoice_id,
            t.customer_name,
            t.phone or "",
            t.status if not t.outcome else f"{t.status}: {t.outcome}",
        )
    out.print(table)


@task_app.command("done")
def task_done(
    task_id: int,
    outcome: Annotated[str, typer.Option(help=" | ".join(TASK_OUTCOMES))],
    on: Annotated[str | None, typer.Option(help="promised date, or payment date (default today)")] = None,
    amount: Annotated[str | None, typer.Option(help="promised or paid amount")] = None,
    reference: Annotated[str | None, typer.Option(help="payment reference (outcome paid)")] = None,
    reason: Annotated[str | None, typer.Option(help="dispute reason (outcome dispute)")] = None,
    installment: Annotated[list[str] | None, typer.Option(help="DATE:AMOUNT (outcome plan)")] = None,
    note: Annotated[
        str | None, typer.Option(help="free note kept with the task; on a request from the debtor's page, their answer")
    ] = None,
    cause: Cause = None,
    invoice: Annotated[str | None, typer.Option(help="the invoice it concerns (a bank entry a person settles)")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Close a task with its outcome; promise, paid, dispute and plan feed the case as ops actions. A request from
    the debtor's page is accepted (fed to the case as they asked) or declined; they read the answer and the note
    on their page and by e-mail."""
    from pydantic import ValidationError

    from relance.domain.errors import explain
    from relance.ledger.db import engine_for
    from relance.ledger.work_queue import TaskError
    from starter.connect import connect
    from starter.ops import ActionRejected, UnknownCase
    from starter.tasks import finish_task

    settings = get_settings()
    items = [item.partition(":") for item in installment or []]
    fields = {
        "outcome": outcome,
        "on": on,
        "amount": amount.replace(",", ".") if amount else None,
        "reference": reference,
        "reason": reason,
        "installments": [{"due_on": d, "amount": a.replace(",", ".")} for d, _, a in items],
        "note": note or "",
        "cause": cause,
        "invoice": invoice,
    }
    try:
        result = TaskOutcome.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        fail(f"task done: {explain(exc)}")

    async def go() -> CaseStatus | None:
        engine = engine_for(settings.database_url)
        client = await connect(settings)
        return await finish_task(engine, client, task_id, result, who(by), date.today(), settings.task_queue)

    try:
        status = run(go())
    except TaskError as exc:
        fail(str(exc), 2)
    except ValidationError as exc:
        fail(f"task done: {explain(exc)}")
    except (UnknownCase, ActionRejected) as exc:
        fail(f"{exc} (task #{task_id} stays open)", 2 if isinstance(exc, UnknownCase) else 1)
    if status is not None:
        show_status(status, as_json)
    if not as_json:
        out.print(f"task #{task_id} done: {outcome}", highlight=False)


@views_app.command()
def report(
    as_of: Annotated[str | None, typer.Option(help="report date, YYYY-MM-DD (default today)")] = None,
    as_json: JsonFlag = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="write the aging balance as CSV")] = None,
    chart: Annotated[Path | None, typer.Option(help="write the aging balance as a PNG chart")] = None,
) -> None:
    """Aging balance, DSO, amounts recovered per stage and channel, promises and disputes (from the ledger)."""
    import csv

    from relance.ledger.db import engine_for
    from relance.ledger.reports import aging_chart, build_report
    from relance.rates.table_file import coverage_warning

    day = parse_date(as_of, "--as-of") if as_of else date.today()
    with working("computing the report in the ledger database"):
        result = build_report(engine_for(get_settings().database_url), day)
    if csv_file:
        with csv_file.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["bucket", "currency", "count", "amount"])
            writer.writerows([a.label, a.currency, a.count, f"{a.amount:.2f}"] for a in result.aging)
    if chart:
        aging_chart(result.aging, str(chart))
    gap = coverage_warning(get_settings().rates_file, day)
    if as_json:
        out.print_json(json.dumps({**result.as_dict(), "rates_warning": gap}, default=str))
        return
    aging_table = Table("days past due", "currency", "invoices", "open balance", title=f"Aging at {day}")
    for a in result.aging:
        aging_table.add_row(a.label, a.currency, str(a.count), f"{a.amount:,.2f}")
    out.print(aging_table)
    for currency, days in result.dso_days.items():
        out.print(f"DSO {currency} {days if days is not None else 'n/a'} days (90-day sales)", highlight=False)
    recovered = Table("by", "value", "currency", "payments", "recovered", title="Recovered")
    for by, rows in (("stage", result.recovered_by_stage), ("channel", result.recovered_by_channel)):
        for a in rows:
            recovered.add_row(by, a.label, a.currency, str(a.count), f"{a.amount:,.2f}")
    out.print(recovered)
    settled = result.promises_kept + result.promises_broken
    rate = f" ({result.promise_kept_rate * 100:.1f} %)" if result.promise_kept_rate is not None else ""
    out.print(
        f"promises kept {result.promises_kept} of {settled} settled{rate}; {result.promises_made} made", highlight=False
    )
    causes = ", ".join(f"{cause} ({n})" for cause, n in result.dispute_causes) or "none"
    out.print(f"disputes: {result.disputed_cases} of {result.cases} cases; causes: {causes}", highlight=False)
    if result.lateness_causes:
        causes_table = Table("cause of lateness", "currency", "invoices", "amount", title="Causes of lateness")
        for a in result.lateness_causes:
            causes_table.add_row(a.label, a.currency, str(a.count), f"{a.amount:,.2f}")
        out.print(causes_table)
    if result.bank_credits:
        share = f" ({result.bank_match_rate * 100:.1f} %)" if result.bank_match_rate is not None else ""
        out.print(
            f"bank: {result.bank_matched} of {result.bank_credits} credits matched automatically{share}",
            highlight=False,
        )
    for c in result.concessions:
        out.print(
            f"concessions: {c.count} settlement(s) kept, {c.amount:,.2f} {c.currency} of principal given up",
            highlight=False,
        )
    if any(result.solved_on_page.values()):
        solved = ", ".join(f"{label} {n}" for label, n in result.solved_on_page.items())
        out.print(f"on the debtors' page, without a person: {solved}", highlight=False)
    if gap is not None:
        out.print(f"rates: {gap}", highlight=False)
