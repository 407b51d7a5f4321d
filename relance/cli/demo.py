"""The newcomer's demo: a sample portfolio on a compressed clock, ops actions on cue, a live board."""

import asyncio
import csv
import io
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from relance.domain.actions import (
    Action,
    AgencyUpdate,
    CourtOrderIssued,
    DisputeOpened,
    DisputeResolved,
    PaymentPlanAgreed,
    PaymentReceived,
    PromiseToPay,
    RegisteredLetterDelivered,
    WriteOff,
)
from relance.domain.case_view import CaseStatus
from relance.domain.invoice import DemoClock
from relance.domain.money import format_money
from relance.domain.policy import load_policies
from relance.settings import Settings
from starter.connect import connect
from starter.importer import parse_file, start_cases
from starter.ops import ActionRejected, act, status

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "invoices.csv"
SAMPLE_TODAY = date(2026, 11, 25)  # the day the sample's dates were written for; the demo shifts them to today


@dataclass(frozen=True)
class Cue:
    day: float
    invoice: str
    action: Action
    says: str


def cues(today: date) -> list[Cue]:
    def on(days: int) -> date:
        return today + timedelta(days=days)

    return [
        Cue(
            0.5,
            "F-1008",
            PaymentReceived(amount=Decimal("420.00"), paid_on=today, reference="VIR-8", by="demo"),
            "paid before any reminder",
        ),
        Cue(
            1.5,
            "F-1002",
            PaymentReceived(amount=Decimal("240.00"), paid_on=on(1), reference="CHQ-2", by="demo"),
            "partial payment: the next reminder asks for 400,00 €",
        ),
        Cue(2.5, "F-1006", PromiseToPay(promised_on=on(6), by="demo"), "promise to pay in 6 days (will be broken)"),
        Cue(3.5, "F-1003", DisputeOpened(reason="article reçu défectueux", by="demo"), "dispute: chasing pauses"),
        Cue(
            4.5,
            "F-1005",
            PaymentPlanAgreed(
                installments=[
                    {"due_on": on(10), "amount": Decimal("600.00")},
                    {"due_on": on(25), "amount": Decimal("650.00")},
                ],
                by="demo",
            ),
            "payment plan in two installments",
        ),
        Cue(10.5, "F-1003", DisputeResolved(outcome="rejected", by="demo"), "dispute rejected: chasing resumes"),
        Cue(
            13.5,
            "F-1005",
            PaymentReceived(amount=Decimal("600.00"), paid_on=on(13), reference="VIR-5a", by="demo"),
            "first installment paid",
        ),
        Cue(20.5, "F-1003", WriteOff(reason="geste commercial", by="demo"), "written off"),
        # the legal path: formal notices (day ~30), their proof of delivery, then court and agency
        Cue(
            35.5,
            "F-1007",
            RegisteredLetterDelivered(tracking_number="1A00000000007", delivered_on=on(34), by="demo"),
            "formal notice delivered: 15 days to pay, then the agency",
        ),
        Cue(
            36.5,
            "F-1002",
            RegisteredLetterDelivered(tracking_number="1A00000000002", delivered_on=on(35), by="demo"),
            "formal notice delivered: 8 days to pay, then the court dossier",
        ),
        Cue(
            53.5,
            "F-1002",
            CourtOrderIssued(issued_on=on(53), reference="IP-DEMO-2", by="demo"),
            "injonction de payer granted",
        ),
        Cue(
            56.5,
            "F-1007",
            AgencyUpdate(status="règlement partiel", collected_amount=Decimal("40.00"), reported_on=on(56), by="demo"),
            "agency collected 40,00 €",
        ),
        Cue(
            58.5,
            "F-1007",
            AgencyUpdate(status="débiteur insolvable", reported_on=on(58), final=True, by="demo"),
            "agency closes its file",
        ),
    ]


def dated_sample(today: date, stamp: str) -> str:
    """The shipped sample with its dates moved to today and invoice ids made unique for this run."""
    shift = today - SAMPLE_TODAY
    rows = list(csv.DictReader(SAMPLE.read_text(encoding="utf-8").splitlines()))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        for column in ("issue_date", "due_date"):
            row[column] = (date.fromisoformat(row[column]) + shift).isoformat()
        row["invoice_id"] = f"{row['invoice_id']}-{stamp}"
        writer.writerow(row)
    return buffer.getvalue()


def waiting_label(waiting_for: str) -> str:
    if waiting_for.startswith("proof of delivery"):
        return "awaits delivery proof"
    return "awaits an address" if "address" in waiting_for else "awaits a person"


def board(statuses: list[CaseStatus], day: float, log: list[str], stamp: str) -> Table:
    table = Table(title=f"Relance demo · case day {day:.1f} · invoices *-{stamp}", title_justify="left")
    for column, width in (("invoice", 6), ("stage", 14), ("balance", 11), ("next step", 16)):
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("last event", overflow="ellipsis", ratio=1)  # the only column that shrinks
    for s in statuses:
        nxt = f"{s.next_step.id} d+{(s.next_step.at - s.as_of).days}" if s.next_step else "—"
        if s.waiting_for:  # a legal step waits for a person (proof of delivery, an address)
            nxt = waiting_label(s.waiting_for)
        elif s.next_step and s.next_step.kind == "limitation_warning":
            nxt = "—"  # only the watch on limitation, years ahead
        table.add_row(
            s.invoice_id.removesuffix(f"-{stamp}"),
            s.stage,
            format_money(s.balance, s.currency, "fr"),
            nxt,
            Text(s.history[-1].detail if s.history else "", no_wrap=True, overflow="ellipsis"),
        )
    table.caption = "\n".join(log[-4:])
    table.caption_justify = "left"
    return table


async def run_demo(settings: Settings, out: Console, *, seconds_per_day: float, minutes: float) -> None:
    today = date.today()
    stamp = datetime.now().strftime("%m%d%H%M%S")
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    sample = settings.outbox_dir.parent / f"demo-invoices-{stamp}.csv"
    sample.write_text(dated_sample(today, stamp), encoding="utf-8")
    policies = load_policies(settings.policy_dir, settings.template_dir)
    parsed = parse_file(sample, clock=DemoClock(seconds_per_day=seconds_per_day), policies=policies)
    client = await connect(settings)
    report = await start_cases(client, parsed, settings.task_queue)
    out.print(f"imported {len(report.started)} invoices from {sample} (one case day = {seconds_per_day:g} s)")
    out.print(f"Temporal Web UI: http://localhost:8233/namespaces/{settings.temporal_namespace}/workflows")
    out.print(f"E-mails land in {settings.outbox_dir}/, phone tasks in {settings.database_url}")
    out.print(
        f"Registered letters in {settings.letter_outbox_dir}/, court dossiers and case files in "
        f"{settings.documents_dir}/ (interest rates from {settings.rates_file})"
    )
    ids = [case.invoice_id for _, case in parsed.cases()]
    pending = cues(today)
    log: list[str] = []
    started = time.monotonic()
    with Live(console=out, refresh_per_second=2) as live:
        while (elapsed := time.monotonic() - started) < minutes * 60:
            day = elapsed / seconds_per_day
            while pending and pending[0].day <= day:
                cue = pending.pop(0)
                try:
                    await act(client, f"{cue.invoice}-{stamp}", cue.action)
                    log.append(f"day {cue.day:g}: {cue.invoice} {cue.says}")
                except ActionRejected as exc:
                    log.append(f"day {cue.day:g}: {cue.invoice} refused: {exc}")
            statuses: list[Any] = await asyncio.gather(*(status(client, i) for i in ids))
            live.update(board(statuses, day, log, stamp))
            if all(s.state == "closed" for s in statuses):
                break
            await asyncio.sleep(1)
    out.print("demo finished; cases keep running in Temporal. Inspect one with: relance status " + ids[0])
