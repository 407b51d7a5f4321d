"""Commands on one case: import, status, and every ops action (each an update, refused with its reason)."""

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import Progress

from relance.cli.support import (
    By,
    Cause,
    JsonFlag,
    act,
    build,
    err,
    fail,
    keep_rejections,
    on_case,
    out,
    parse_amount,
    parse_date,
    run,
    show_status,
    who,
)
from relance.domain.actions import (
    ContactUpdated,
    DisputeOpened,
    DisputeResolved,
    Pause,
    PaymentPlanAgreed,
    PaymentReceived,
    PaymentReversed,
    PromiseToPay,
    Resume,
    SettlementOffered,
    WriteOff,
)
from relance.domain.case_view import CaseStatus
from relance.domain.errors import explain
from relance.domain.invoice import DemoClock
from relance.domain.policy import PolicyError, load_policies
from relance.settings import get_settings

cases_app = typer.Typer()
dispute_app = typer.Typer(help="Open or resolve a dispute on an invoice.", no_args_is_help=True)
cases_app.add_typer(dispute_app, name="dispute")


@cases_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, help="CSV or JSON invoices; or e-invoices: a Factur-X PDF, a CII or UBL XML, a folder"
        ),
    ],
    seconds_per_day: Annotated[
        float | None, typer.Option(help="demo clock: real seconds per case day (demo workers only)")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="the file's encoding (default: detected; utf-8, utf-16, cp1252, latin-1)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Start one case per invoice; bad rows are reported by line, existing cases are left unchanged. An e-invoice
    (Factur-X, CII, UBL; or a folder of them) opens its case, keeps its PDF, and a credit note reduces the invoice
    it names."""
    from starter.connect import connect
    from starter.importer import ImportFileError, parse_file, start_cases

    settings = get_settings()
    if file.is_dir() or file.suffix.lower() in (".pdf", ".xml"):
        import_einvoice_files(file, as_json)
        return
    clock = None
    if seconds_per_day is not None:
        if not settings.demo_mode:
            fail("nothing imported: --seconds-per-day is a demo feature; set RELANCE_DEMO_MODE=1 (demo workers only)")
        try:
            clock = DemoClock(seconds_per_day=seconds_per_day)
        except ValidationError as exc:
            fail(f"nothing imported: --seconds-per-day: {explain(exc)}")
    try:
        policies = load_policies(settings.policy_dir, settings.template_dir)
        parsed = parse_file(file, clock=clock, encoding=encoding, policies=policies)
    except (ImportFileError, PolicyError) as exc:
        fail(f"nothing imported: {exc}")
    if parsed.encoding not in ("utf-8", "utf-8-sig") and not as_json:
        err.print(f"read {file.name} as {parsed.encoding}", highlight=False)

    async def go() -> Any:
        client = await connect(settings)
        with Progress(console=err, transient=True, disable=as_json) as progress:
            task = progress.add_task("starting cases", total=parsed.count)
            return await start_cases(
                client, parsed, settings.task_queue, on_progress=lambda: progress.advance(task), by=who(None)
            )

    if parsed.count:
        try:
            report = run(go())
        except ImportFileError as exc:  # the file changed between its check and its starts
            fail(f"import stopped: {exc}; the cases already started stay (an import again reports them as existing)")
    else:  # nothing to start: no need for Temporal to say which rows were refused
        from starter.importer import ImportReport

        report = ImportReport(errors=sorted(parsed.errors, key=lambda e: e.line))
    if as_json:  # written as it is: highlighting 100,000 ids took more memory than the whole import
        json.dump(
            {
                "started": sorted(report.started),
                "existing": sorted(report.existing),
                "rejected": [
                    {"line": e.line, "invoice": e.item, "invoice_id": e.invoice_id, "reason": e.reason}
                    for e in report.errors
                ],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
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


@cases_app.command()
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


@cases_app.command()
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
    invoice: str, reason: Annotated[str, typer.Option()], cause: Cause = None, by: By = None, as_json: JsonFlag = False
) -> None:
    """Open a dispute: all chasing pauses (cause of lateness: dispute, unless another is given)."""
    act(invoice, build(DisputeOpened, reason=reason, cause=cause, by=who(by)), as_json)


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


@cases_app.command()
def promise(
    invoice: str,
    on: Annotated[str, typer.Option(help="promised payment date, YYYY-MM-DD")],
    amount: Annotated[str | None, typer.Option(help="promised amount (default: the balance)")] = None,
    cause: Cause = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a promise to pay: chasing pauses until the date plus the policy's grace days."""
    promised = parse_amount(amount) if amount else None
    promise_ = build(PromiseToPay, promised_on=parse_date(on, "--on"), amount=promised, cause=cause, by=who(by))
    act(invoice, promise_, as_json)


@cases_app.command()
def settle(
    invoice: str,
    amount: Annotated[str, typer.Option(help="what the debtor pays to settle")],
    pay_by: Annotated[str, typer.Option("--pay-by", help="the offer holds until this date, YYYY-MM-DD")],
    waive: Annotated[list[str], typer.Option(help="principal, interest or indemnity; repeat for several")],
    reason: Annotated[str, typer.Option(help="why the offer is made")],
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Offer a settlement (or an early-payment discount): chasing pauses until the date plus the policy's
    grace days; paid in time, the case closes as settled and the part given up is recorded as a concession."""
    offer = build(
        SettlementOffered,
        amount=parse_amount(amount),
        pay_by=parse_date(pay_by, "--pay-by"),
        waive=waive,
        reason=reason,
        by=who(by),
    )
    act(invoice, offer, as_json)


@cases_app.command()
def plan(
    invoice: str,
    installment: Annotated[list[str], typer.Option(help="DATE:AMOUNT, repeat for each installment")],
    cause: Cause = None,
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
    act(invoice, build(PaymentPlanAgreed, installments=installments, cause=cause, by=who(by)), as_json)


@cases_app.command()
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


@cases_app.command()
def resume(invoice: str, by: By = None, as_json: JsonFlag = False) -> None:
    """Lift a manual pause; missed steps collapse to the latest one."""
    act(invoice, build(Resume, by=who(by)), as_json)


@cases_app.command("write-off")
def write_off(
    invoice: str, reason: Annotated[str, typer.Option()], cause: Cause = None, by: By = None, as_json: JsonFlag = False
) -> None:
    """Write the invoice off and close the case."""
    act(invoice, build(WriteOff, reason=reason, cause=cause, by=who(by)), as_json)


@cases_app.command()
def reverse(
    invoice: str,
    reference: Annotated[str, typer.Option(help="the reference of the payment that came back")],
    amount: Annotated[str, typer.Option(help="the amount returned")],
    reason: Annotated[str, typer.Option(help="the bank's reason, e.g. AM04 insufficient funds")],
    on: Annotated[str | None, typer.Option(help="the day it came back (default today)")] = None,
    fee: Annotated[str | None, typer.Option(help="the bank's fee for the return")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """A payment came back (returned direct debit, reversed transfer, bounced cheque): the balance is owed
    again and chasing resumes at the policy's step for a returned payment; a case it had closed as paid
    reopens (a new run of the same case)."""
    reversal = build(
        PaymentReversed,
        reference=reference,
        amount=parse_amount(amount),
        reason=reason,
        reversed_on=parse_date(on, "--on") if on else date.today(),
        fee=parse_amount(fee, "--fee") if fee else None,
        by=who(by),
    )
    act(invoice, reversal, as_json)  # as every action: a closed case reopens, a refusal is kept


@cases_app.command()
def reopen(
    invoice: str,
    reason: Annotated[str, typer.Option(help="why the claim is pursued again")],
    step: Annotated[
        str | None, typer.Option(help="the policy step chasing resumes at (default: where it stopped)")
    ] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Reopen a written-off or policy-completed claim still within its limitation period: a new run of the
    same case, with its balance, payments and legal history."""
    from datetime import UTC, datetime

    from starter.ops import reopen as reopen_case

    queue, person = get_settings().task_queue, who(by)
    on_case(
        lambda client: reopen_case(client, invoice, queue, reason=reason, by=person, step=step, now=datetime.now(UTC)),
        as_json,
    )


@cases_app.command()
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


def _declared() -> str:
    """Every action of the rule table, its least role and its fields: the help of `relance act`."""
    from relance.domain.rules import OPS_ACTIONS

    lines = []
    for action in OPS_ACTIONS:
        fields = ", ".join(name for name in action.model_fields if name != "by")
        role = action.least_role.value if action.least_role is not None else "nobody (undeclared)"
        lines.append(f"{action.name} ({role}): {fields}")
    return "\n".join(lines)


@cases_app.command(
    "act",
    help="Send any declared action, its payload as JSON (the commands above are its friendlier forms).\n\n"
    "Actions (least API role): fields\n\n" + "\n\n".join(_declared().splitlines()),
)
def act_any(
    invoice: str,
    action: Annotated[str, typer.Argument(help="an action's name, as listed below")],
    payload: Annotated[str, typer.Argument(help='its fields as a JSON object, e.g. \'{"reason": "NPAI"}\'')] = "{}",
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    from relance.domain.rules import OPS_ACTIONS

    known = {a.name: a for a in OPS_ACTIONS}
    if action not in known:
        fail(f"unknown action {action!r}; declared: {', '.join(known)}")
    try:
        fields = json.loads(payload)
    except json.JSONDecodeError as err:
        fail(f"payload: not JSON ({err.msg} at character {err.pos})")
    if not isinstance(fields, dict):
        fail("payload: must be a JSON object")
    if by is not None:
        fields["by"] = by
    act(invoice, build(known[action], **fields), as_json)


def import_einvoice_files(path: Path, as_json: bool) -> None:
    """`relance import` of e-invoices: what became of each file, and a refusal kept with its reason."""
    from relance.ledger.db import engine_for
    from starter.connect import connect
    from starter.einvoicing import files_in, import_einvoices

    settings = get_settings()
    files = files_in(path)
    if not files:
        fail(f"nothing imported: no e-invoice (.pdf, .xml) in {path}")
    try:
        policies = load_policies(settings.policy_dir, settings.template_dir)
    except PolicyError as exc:
        fail(f"nothing imported: {exc}")
    engine = engine_for(settings.database_url)

    async def go() -> Any:
        client = await connect(settings)
        sources = [(f.name, f.read_bytes()) for f in files]
        return await import_einvoices(client, engine, settings, sources, policies, who(None))

    outcomes = run(go())
    if as_json:
        json.dump([o.as_dict() for o in outcomes], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for o in outcomes:
            colour = "red" if o.outcome == "refused" else "yellow" if o.outcome == "kept" else "green"
            line = f"[{colour}]{o.outcome}[/] {escape(o.source)}: {escape(o.invoice or '-')}: {escape(o.detail)}"
            out.print(line, highlight=False, markup=True)
    refused = [o for o in outcomes if o.outcome == "refused"]
    if refused:
        from relance.ledger.rejections import rejected_row

        keep_rejections([rejected_row(o.source, 1, o.invoice, o.detail, who(None)) for o in refused])
        raise typer.Exit(1)
