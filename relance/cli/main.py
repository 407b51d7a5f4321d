"""`relance`: the ops command line. Every command reads the same settings as the worker."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from relance.cli.account import account_app
from relance.cli.legal import agency_app, court_app, letter_app, statement
from relance.cli.process import end_process
from relance.cli.support import (
    By,
    JsonFlag,
    act,
    build,
    err,
    fail,
    keep_rejections,
    out,
    parse_amount,
    parse_date,
    run,
    show_status,
    who,
    working,
)
from relance.domain.actions import (
    Action,
    ContactUpdated,
    DisputeOpened,
    DisputeResolved,
    Pause,
    PaymentPlanAgreed,
    PaymentReceived,
    PromiseToPay,
    ReapplyPolicy,
    Resume,
    WriteOff,
)
from relance.domain.case import CaseStatus
from relance.domain.errors import explain
from relance.domain.invoice import DemoClock
from relance.domain.policy import PolicyError, load_policies, load_policy
from relance.domain.schedule import plan_steps
from relance.settings import get_settings

app = typer.Typer(help="Relance: one durable Temporal workflow per unpaid invoice.", no_args_is_help=True)
policy_app = typer.Typer(help="Check, explain and re-apply collection policies.", no_args_is_help=True)
dispute_app = typer.Typer(help="Open or resolve a dispute on an invoice.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(dispute_app, name="dispute")
app.add_typer(letter_app, name="letter")
app.add_typer(court_app, name="court")
app.add_typer(agency_app, name="agency")
app.add_typer(account_app, name="account")
app.command("statement")(statement)

# ---- worker and import ---------------------------------------------------------------------------------


@app.command()
def worker() -> None:
    """Run a worker: the collection workflow and its activities on the task queue."""
    from temporalio.service import RPCError

    from relance.worker_runtime import WorkerConfigError, main

    try:
        main(get_settings())
    except WorkerConfigError as exc:
        fail(str(exc))
    except RPCError as exc:
        fail(f"Temporal refused the worker: {exc.message}")


@app.command()
def setup() -> None:
    """Prepare a Temporal namespace for Relance: register the case search attributes (safe to re-run)."""
    from temporalio.service import RPCError

    from starter.connect import connect
    from starter.namespace import CANNOT_LIST, Registration, register_attributes

    settings = get_settings()

    async def go() -> Registration:
        return await register_attributes(await connect(settings), settings.temporal_namespace)

    try:
        registration = run(go())
    except ValueError as exc:
        fail(str(exc))
    except RPCError as exc:
        fail(f"Temporal refused to register the search attributes: {exc.message}")
    added = registration.added
    done = f"registered {', '.join(added)}" if added else "search attributes already registered"
    out.print(f"namespace {settings.temporal_namespace}: {done}", highlight=False)
    if not registration.listed:
        err.print(f"note: {CANNOT_LIST} (each was added; those it already had were kept)", highlight=False)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON invoices")],
    seconds_per_day: Annotated[
        float | None, typer.Option(help="demo clock: real seconds per case day (demo workers only)")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="the file's encoding (default: detected; utf-8, utf-16, cp1252, latin-1)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Start one case per invoice; bad rows are reported by line, existing cases are left unchanged."""
    from starter.connect import connect
    from starter.importer import ImportFileError, check_policies, parse_file, start_cases

    settings = get_settings()
    clock = None
    if seconds_per_day is not None:
        if not settings.demo_mode:
            fail("nothing imported: --seconds-per-day is a demo feature; set RELANCE_DEMO_MODE=1 (demo workers only)")
        try:
            clock = DemoClock(seconds_per_day=seconds_per_day)
        except ValidationError as exc:
            fail(f"nothing imported: --seconds-per-day: {explain(exc)}")
    try:
        parsed = parse_file(file, clock=clock, encoding=encoding)
        check_policies(parsed, load_policies(settings.policy_dir, settings.template_dir))
    except (ImportFileError, PolicyError) as exc:
        fail(f"nothing imported: {exc}")
    if parsed.encoding not in ("utf-8", "utf-8-sig") and not as_json:
        err.print(f"read {file.name} as {parsed.encoding}", highlight=False)

    async def go() -> Any:
        client = await connect(settings)
        with Progress(console=err, transient=True, disable=as_json) as progress:
            task = progress.add_task("starting cases", total=len(parsed.cases))
            return await start_cases(client, parsed, settings.task_queue, on_progress=lambda: progress.advance(task))

    if parsed.cases:
        report = run(go())
    else:  # nothing to start: no need for Temporal to say which rows were refused
        from starter.importer import ImportReport

        report = ImportReport(errors=sorted(parsed.errors, key=lambda e: e.line))
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "started": sorted(report.started),
                    "existing": sorted(report.existing),
                    "rejected": [
                        {"line": e.line, "invoice": e.item, "invoice_id": e.invoice_id, "reason": e.reason}
                        for e in report.errors
                    ],
                }
            )
        )
    else:
        for error in report.errors:
            err.print(f"[red]rejected[/] {escape(str(error))}", highlight=False, markup=True)
        out.print(
            f"started {len(report.started)}, already existing {len(report.existing)} (left unchanged), "
            f"rejected {len(report.errors)}",
            highlight=False,
        )
    if report.errors:
        from relance.ledger.rejections import rejected_row

        person = who(None)
        keep_rejections([rejected_row(str(file), e.line, e.invoice_id, e.reason, person) for e in report.errors])
        raise typer.Exit(1)


@app.command()
def status(
    invoice: str, as_json: JsonFlag = False, history: Annotated[int, typer.Option(help="history lines to show")] = 12
) -> None:
    """Show a case: stage, balance, next step, history."""
    from starter.connect import connect
    from starter.ops import UnknownCase
    from starter.ops import status as fetch

    async def go() -> CaseStatus:
        return await fetch(await connect(get_settings()), invoice)

    try:
        show_status(run(go()), as_json, history=history)
    except UnknownCase as exc:
        fail(str(exc), 2)


# ---- ops actions ----------------------------------------------------------------------------------------


@app.command()
def pay(
    invoice: str,
    amount: str,
    reference: Annotated[str, typer.Option(help="bank or cheque reference (unique per case)")],
    on: Annotated[str | None, typer.Option(help="date paid, YYYY-MM-DD (default today)")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a payment received (partial payments reduce the balance)."""
    paid_on = parse_date(on, "--on") if on else date.today()
    act(
        invoice,
        build(PaymentReceived, amount=parse_amount(amount), paid_on=paid_on, reference=reference, by=who(by)),
        as_json,
    )


@dispute_app.command("open")
def dispute_open(
    invoice: str, reason: Annotated[str, typer.Option()], by: By = None, as_json: JsonFlag = False
) -> None:
    """Open a dispute: all chasing pauses."""
    act(invoice, build(DisputeOpened, reason=reason, by=who(by)), as_json)


@dispute_app.command("resolve")
def dispute_resolve(
    invoice: str,
    outcome: Annotated[str, typer.Option(help="rejected | accepted | partially_accepted")],
    credited: Annotated[str | None, typer.Option(help="amount credited (partially_accepted)")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Resolve the open dispute: resume chasing, or credit and close."""
    credited_amount = parse_amount(credited, "--credited") if credited else None
    act(invoice, build(DisputeResolved, outcome=outcome, credited_amount=credited_amount, by=who(by)), as_json)


@app.command()
def promise(
    invoice: str,
    on: Annotated[str, typer.Option(help="promised payment date, YYYY-MM-DD")],
    amount: Annotated[str | None, typer.Option(help="promised amount (default: the balance)")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a promise to pay: chasing pauses until the date plus the policy's grace days."""
    promised = parse_amount(amount) if amount else None
    act(invoice, build(PromiseToPay, promised_on=parse_date(on, "--on"), amount=promised, by=who(by)), as_json)


@app.command()
def plan(
    invoice: str,
    installment: Annotated[list[str], typer.Option(help="DATE:AMOUNT, repeat for each installment")],
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Agree a payment plan; the case follows its installments and escalates on a missed one."""
    installments = []
    for item in installment:
        day, sep, amount = item.partition(":")
        if not sep:
            fail(f"installment {item!r} must be DATE:AMOUNT, e.g. 2026-12-15:500.00")
        installments.append({"due_on": parse_date(day, "installment date"), "amount": parse_amount(amount)})
    act(invoice, build(PaymentPlanAgreed, installments=installments, by=who(by)), as_json)


@app.command()
def pause(
    invoice: str,
    reason: Annotated[str, typer.Option()],
    until: Annotated[str | None, typer.Option(help="resume on this date, YYYY-MM-DD")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Pause chasing (until a date, or until resumed)."""
    act(
        invoice, build(Pause, reason=reason, until=parse_date(until, "--until") if until else None, by=who(by)), as_json
    )


@app.command()
def resume(invoice: str, by: By = None, as_json: JsonFlag = False) -> None:
    """Lift a manual pause; missed steps collapse to the latest one."""
    act(invoice, build(Resume, by=who(by)), as_json)


@app.command("write-off")
def write_off(invoice: str, reason: Annotated[str, typer.Option()], by: By = None, as_json: JsonFlag = False) -> None:
    """Write the invoice off and close the case."""
    act(invoice, build(WriteOff, reason=reason, by=who(by)), as_json)


@app.command()
def contact(
    invoice: str,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option(help='JSON: {"line1","postal_code","city","country"}')] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Update the debtor's contact details used by the next messages."""
    try:
        parsed_address = json.loads(address) if address else None
    except json.JSONDecodeError as exc:
        fail(f"--address is not valid JSON: {exc.msg}")
    act(invoice, build(ContactUpdated, email=email, phone=phone, address=parsed_address, by=who(by)), as_json)


# ---- policies ---------------------------------------------------------------------------------------------


@policy_app.command("check")
def policy_check(files: Annotated[list[Path], typer.Argument(help="policy files or folders")]) -> None:
    """Validate policies; every problem is printed with its file, line and field."""
    settings = get_settings()
    paths = [p for f in files for p in (sorted(f.glob("*.y*ml")) if f.is_dir() else [f])]
    problems = 0
    for path in paths:
        if not path.exists():
            err.print(f"{path}: no such file", highlight=False)
            problems += 1
            continue
        try:
            policy = load_policy(path, settings.template_dir)
        except PolicyError as exc:
            for problem in exc.problems:
                err.print(str(problem), highlight=False)
            problems += len(exc.problems)
            continue
        out.print(f"ok {path}: {policy.label}, {len(policy.steps)} steps", highlight=False)
    if problems:
        fail(f"{problems} problem(s) found")


@policy_app.command("explain")
def policy_explain(
    policy: Annotated[str, typer.Argument(help="policy name, or a policy file")],
    due: Annotated[str, typer.Option(help="invoice due date, YYYY-MM-DD")],
    now: Annotated[str | None, typer.Option(help="as seen at (ISO date-time; default: now)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the dated steps a policy would run for an invoice due on a date."""
    settings = get_settings()
    try:
        chosen = (
            load_policy(Path(policy), settings.template_dir)
            if Path(policy).is_file()
            else load_policies(settings.policy_dir, settings.template_dir).get(policy)
        )
    except PolicyError as exc:
        fail(str(exc))
    if chosen is None:
        fail(f"no policy named {policy!r} in {settings.policy_dir}")
    zone = chosen.calendar.zone
    try:
        seen = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError:
        fail(f"--now {now!r} is not an ISO date-time")
    seen = seen if seen.tzinfo else seen.replace(tzinfo=zone)
    schedule = plan_steps(chosen, parse_date(due, "--due"), seen)
    if as_json:
        steps = [
            {"step": p.step.id, "action": p.step.action.value, "template": p.step.template, "at": p.at.isoformat()}
            for p in schedule.planned
        ]
        skipped = [{"step": step.id, "why": why} for step, why in schedule.skipped]
        out.print_json(json.dumps({"policy": chosen.label, "planned": steps, "skipped": skipped}))
        return
    table = Table(
        "step",
        "action",
        "template",
        f"when ({chosen.calendar.timezone})",
        "note",
        title=f"{chosen.label} for an invoice due {due}, seen at {seen.astimezone(zone):%Y-%m-%d %H:%M}",
    )
    for step, why in schedule.skipped:
        table.add_row(step.id, step.action.value, step.template, "—", f"skipped: {why}")
    for planned in schedule.planned:
        step = planned.step
        note = f"if balance ≥ {step.conditions.min_balance}" if step.conditions.min_balance else ""
        table.add_row(
            step.id, step.action.value, step.template, planned.at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M"), note
        )
    out.print(table)


@policy_app.command("reapply")
def policy_reapply(
    invoice: str,
    policy: Annotated[str | None, typer.Option(help="policy name (default: choose again by the rules)")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Move a running case to another policy, or to the newest version of the rules."""
    act(invoice, build(ReapplyPolicy, policy=policy, by=who(by)), as_json)


@app.command()
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


@app.command()
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
    out.print(f"standing: [bold]{escape(view.standing)}[/]", highlight=False, markup=True)
    out.print(f"risk: [bold]{view.risk.level}[/] (score {view.risk.score} of 100)", highlight=False, markup=True)
    for reason in view.risk.reasons:
        out.print(f"  - {reason}", highlight=False)


task_app = typer.Typer(help="Complete a task of the work queue.", no_args_is_help=True)
app.add_typer(task_app, name="task")


@app.command()
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


TASK_OUTCOMES = ("promise", "paid", "dispute", "plan", "unreachable", "no_answer")


@task_app.command("done")
def task_done(
    task_id: int,
    outcome: Annotated[str, typer.Option(help=" | ".join(TASK_OUTCOMES))],
    on: Annotated[str | None, typer.Option(help="promised date, or payment date (default today)")] = None,
    amount: Annotated[str | None, typer.Option(help="promised or paid amount")] = None,
    reference: Annotated[str | None, typer.Option(help="payment reference (outcome paid)")] = None,
    reason: Annotated[str | None, typer.Option(help="dispute reason (outcome dispute)")] = None,
    installment: Annotated[list[str] | None, typer.Option(help="DATE:AMOUNT (outcome plan)")] = None,
    note: Annotated[str | None, typer.Option(help="free note kept with the task")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Close a task with its outcome; promise, paid, dispute and plan feed the case as ops actions."""
    from relance.ledger.db import engine_for
    from relance.ledger.work_queue import TaskError, complete_task, open_task

    engine = engine_for(get_settings().database_url)
    try:
        task = open_task(engine, task_id)
    except TaskError as exc:
        fail(str(exc), 2)
    person = who(by)
    action: Action | None
    if outcome == "promise":
        if not on:
            fail("outcome promise needs --on DATE")
        action = build(
            PromiseToPay, promised_on=parse_date(on, "--on"), amount=parse_amount(amount) if amount else None, by=person
        )
    elif outcome == "paid":
        if not (amount and reference):
            fail("outcome paid needs --amount and --reference")
        action = build(
            PaymentReceived,
            amount=parse_amount(amount),
            reference=reference,
            paid_on=parse_date(on, "--on") if on else date.today(),
            by=person,
        )
    elif outcome == "dispute":
        action = build(DisputeOpened, reason=reason or note or "", by=person)
    elif outcome == "plan":
        items = [item.partition(":") for item in installment or []]
        action = build(
            PaymentPlanAgreed,
            by=person,
            installments=[
                {"due_on": parse_date(d, "installment date"), "amount": parse_amount(a)} for d, _, a in items
            ],
        )
    elif outcome in TASK_OUTCOMES:
        action = None
    else:
        fail(f"--outcome {outcome!r}: expected one of {', '.join(TASK_OUTCOMES)}")
    if action is not None:
        act(task.invoice_id, action, as_json)
    try:
        complete_task(engine, task_id, outcome, note or "", person)
    except TaskError as exc:
        fail(str(exc))
    if not as_json:
        out.print(f"task #{task_id} done: {outcome}", highlight=False)


@app.command()
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
    if as_json:
        out.print_json(json.dumps(result.as_dict(), default=str))
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


@app.command()
def demo(
    seconds_per_day: Annotated[float, typer.Option(help="real seconds per case day")] = 6.0,
    minutes: Annotated[float, typer.Option(help="how long to watch the cases")] = 6.0,
) -> None:
    """Import a sample portfolio on a compressed clock and watch the cases move."""
    from relance.cli.demo import run_demo

    run(run_demo(get_settings(), out, seconds_per_day=seconds_per_day, minutes=minutes))


def main() -> None:
    """Console entry point (see end_process for why it does not return)."""
    from relance.settings import SettingsError
    from starter.connect import TemporalUnreachable

    code = 0
    try:
        app()
    except (TemporalUnreachable, SettingsError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        code = 1
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    end_process(code)


if __name__ == "__main__":
    main()
