"""A bank statement reconciled against running cases (time-skipping server, SQLite ledger): a statement pays
three invoices (one by its exact reference, one transfer for two invoices), an unknown transfer becomes a
task, the same file again changes nothing, and a returned direct debit restores an open case's balance."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.bank.camt import parse_camt
from relance.domain.case_view import CaseStatus
from relance.ledger.db import BankEntryRow, engine_for
from relance.ledger.reports import build_report
from relance.ledger.work_queue import list_tasks
from starter.bank_import import import_statement
from tests.builders import OURS, ROOT, START, camt, entry, invoice, paris

STATEMENT = camt(
    entry("B-1", "1250.00", "VIR SEPA FACT BK-1", "E2E-1"),
    entry("B-2", "1200.00", "REGLT FACTURES BK-2 BK-3", "E2E-2"),
    entry("B-3", "100.00", "FACT BK-4 ACOMPTE", "SDD-4"),
    entry("B-4", "640.00", "VIREMENT", "E2E-X", name="INCONNU SARL", iban=None),
)


async def test_a_statement_pays_splits_asks_a_person_and_is_applied_once(env, open_case, worker):
    cases = {
        n: await open_case(invoice(f"BK-{n}", amount=amount, starts_at=START))
        for n, amount in ((1, "1250.00"), (2, "500.00"), (3, "700.00"), (4, "300.00"))
    }
    await cases[1].advance_to(paris(2026, 5, 12, 12))
    engine = engine_for(worker.database_url)

    async def imported(data: bytes):
        statement = parse_camt(data)
        return await import_statement(
            env.client, engine, statement, today=date(2026, 5, 12), task_queue=worker.task_queue
        )

    summary = await imported(STATEMENT)
    assert [(o.reference, o.decision) for o in summary.outcomes] == [
        ("B-1@2026-05-12", "paid"),  # the bank's reference and the day it booked the movement
        ("B-2@2026-05-12", "split"),
        ("B-3@2026-05-12", "paid"),
        ("B-4@2026-05-12", "review"),
    ]
    statuses = {n: await c.status() for n, c in cases.items()}
    assert [(statuses[n].outcome, statuses[n].balance) for n in (1, 2, 3, 4)] == [
        ("paid", Decimal("0")),
        ("paid", Decimal("0")),
        ("paid", Decimal("0")),
        (None, Decimal("200.00")),
    ]
    assert [p.reference for p in statuses[2].payments] == ["B-2@2026-05-12/BK-2"]
    (task,) = [t for t in list_tasks(engine, today=date(2026, 5, 12)) if t.kind == "bank"]
    assert "A bank credit of 640.00 EUR on 2026-05-12 needs a person" in task.script
    assert (
        "relance task done ID --outcome paid --invoice INVOICE --amount 640.00 --reference B-4@2026-05-12"
        in task.script
    )
    assert summary.totals()["split"] == {"count": 1, "amounts": {"EUR": "1200.00"}}
    report = build_report(engine, date(2026, 5, 12))
    assert (report.bank_credits, report.bank_matched, report.bank_match_rate) == (4, 3, Decimal("0.750"))

    again = await imported(STATEMENT)
    assert {o.decision for o in again.outcomes} == {"already_seen"}
    assert [p.reference for p in (await cases[4].status()).payments] == ["B-3@2026-05-12"]

    returned = camt(
        entry("R-1", "100.00", "RETOUR PRLV", "SDD-4", debit="AM04"),
        entry("R-2", "1250.00", "RETOUR VIR", "E2E-1", debit="MS02"),
        statement_id="S-2",
    )
    summary = await imported(returned)
    assert [(o.decision, o.detail) for o in summary.outcomes] == [
        ("return", "returned (AM04): BK-4 100.00; end-to-end id SDD-4"),
        ("return", "returned (MS02): BK-1 1250.00; end-to-end id E2E-1"),
    ]
    back = await cases[4].status()  # open: the balance is owed again
    assert (back.balance, back.total_paid) == (Decimal("300.00"), Decimal("0.00"))
    reopened = await env.client.get_workflow_handle("invoice-BK-1").query("status", result_type=CaseStatus)
    assert (reopened.state, reopened.outcome, reopened.balance) == ("open", None, Decimal("1250.00"))
    events = [h.event for h in reopened.history]
    assert events.index("case_reopened") < events.index("payment_reversed")
    with Session(engine) as session:
        rows = session.execute(select(BankEntryRow.reference, BankEntryRow.decision, BankEntryRow.statement)).all()
    assert sorted(rows) == [
        ("B-1@2026-05-12", "paid", "camt.053.001.08 S-1"),
        ("B-2@2026-05-12", "split", "camt.053.001.08 S-1"),
        ("B-3@2026-05-12", "paid", "camt.053.001.08 S-1"),
        ("B-4@2026-05-12", "review", "camt.053.001.08 S-1"),
        ("R-1@2026-05-12", "return", "camt.053.001.08 S-2"),
        ("R-2@2026-05-12", "return", "camt.053.001.08 S-2"),
    ]
    await env.client.get_workflow_handle("invoice-BK-1").terminate(reason="test finished")


async def test_the_command_prints_what_went_where(env, open_case, worker, tmp_path):
    for n, amount in ((1, "1250.00"), (2, "500.00"), (3, "700.00")):
        await open_case(invoice(f"CLI-{n}", amount=amount, starts_at=START))
    await env.sleep(86400 * 22)  # the cases' clocks reach 12 May
    statement = tmp_path / "statement.xml"
    statement.write_bytes(
        camt(
            entry("C-1", "1250.00", "VIR SEPA FACT CLI-1", "E-1"),
            entry("C-2", "1200.00", "REGLT FACTURES CLI-2 CLI-3", "E-2"),
            entry("C-3", "640.00", "VIREMENT", "E-3", name="INCONNU SARL", iban=None),
            statement_id="S-CLI",
        )
    )
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "RELANCE_DATABASE_URL": worker.database_url,
        "RELANCE_TASK_QUEUE": worker.task_queue,
        "COLUMNS": "200",
    }

    def relance(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "relance.cli.main", "bank", "import", str(statement), *args]
        return subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120)

    first = await asyncio.to_thread(relance)
    assert first.returncode == 0, first.stderr
    print(first.stdout)  # the closing note quotes this run
    assert first.stdout.splitlines()[-3:] == [
        "paid: 1 (1250.00 EUR)",
        "split: 1 (1200.00 EUR)",
        "review: 1 (640.00 EUR)",
    ]
    again = await asyncio.to_thread(relance, "--json")
    assert json.loads(again.stdout)["totals"] == {"already_seen": {"count": 3, "amounts": {"EUR": "3090.00"}}}
    environment["RELANCE_BANK_ACCOUNTS"] = "DE89370400440532013000"  # a statement of an account not ours
    foreign = await asyncio.to_thread(relance)
    assert (foreign.returncode, foreign.stderr.strip()) == (
        1, f"error: statement.xml refused, nothing applied: account {OURS} is not one of ours (RELANCE_BANK_ACCOUNTS)"
    )  # fmt: skip


def cfonb(*movements: tuple[str, int, str, str]) -> str:
    """A CFONB 120 statement of our account on 12 May 2026: (label, cents signed, rejection code, reference)."""

    def signed(cents: int) -> str:
        digits = f"{abs(cents):014d}"
        return digits[:-1] + ("{ABCDEFGHI" if cents >= 0 else "}JKLMNOPQR")[int(digits[-1])]

    head = "0130004    00003EUR2 12345678901  110526" + " " * 50 + signed(0) + " " * 16
    lines = [head]
    for label, cents, reject, reference in movements:
        lines.append(
            f"0430004000500003EUR2 1234567890105120526{reject:2}120526{label:31}  0000000  {signed(cents)}"
            f"{reference:16}"
        )
    lines.append("07" + head[2:])
    assert all(len(line) == 120 for line in lines)
    return "\r\n".join(lines) + "\r\n"


async def test_returns_by_their_text_conflicts_our_money_back_and_same_day_credits(env, open_case, worker):
    from relance.bank.cfonb import parse_cfonb
    from relance.domain.actions import PaymentReceived
    from starter.ops import act

    cheque = await open_case(invoice("F-1001", amount="300.00", starts_at=START))
    same_day = [await open_case(invoice(f"SD-{n}", amount="480.00", starts_at=START)) for n in (1, 2)]
    await cheque.advance_to(paris(2026, 5, 12, 12))
    engine = engine_for(worker.database_url)
    await act(env.client, "F-1001", PaymentReceived(amount=Decimal("300.00"), paid_on=date(2026, 5, 11),
                                                    reference="CHQ-7", by="alice"))  # fmt: skip
    assert (await cheque.status()).outcome == "paid"

    async def imported(statement):
        return await import_statement(
            env.client, engine, statement, today=date(2026, 5, 12), task_queue=worker.task_queue
        )

    # two credits of one day, entry numbers zeroed as banks do: both reach their cases
    text = cfonb(("VIR SEPA FACT SD-1", 48000, "", ""), ("VIR SEPA FACT SD-2", 48000, "", ""))
    summary = await imported(parse_cfonb(text))
    assert [o.decision for o in summary.outcomes] == ["paid", "paid"]
    assert [(await c.status()).outcome for c in same_day] == ["paid", "paid"]
    assert {o.decision for o in (await imported(parse_cfonb(text))).outcomes} == {"already_seen"}

    # the hand-recorded cheque comes back: its text names the payment and the invoice, the case reopens
    summary = await imported(parse_cfonb(cfonb(("IMPAYE CHQ-7 F-1001", -30000, "01", ""))))
    (outcome,) = summary.outcomes
    assert (outcome.decision, outcome.detail) == (
        "return",
        "returned (01): F-1001 300.00; payment CHQ-7 named in the text",
    )
    reopened = await env.client.get_workflow_handle("invoice-F-1001").query("status", result_type=CaseStatus)
    assert (reopened.state, reopened.outcome, reopened.balance) == ("open", None, Decimal("300.00"))

    # a return that names nothing it undoes: a task lists the payments of its amount
    summary = await imported(parse_cfonb(cfonb(("RETOUR VIREMENT", -48000, "02", ""))))
    assert [o.decision for o in summary.outcomes] == ["review"]
    (task,) = [t for t in list_tasks(engine, today=date(2026, 5, 12)) if "a returned payment" in t.script]
    assert "nothing in the return identifies the payment it undoes; candidates: SD-1, SD-2" in task.script

    # our own transfer coming back, and an entry whose key the ledger has with another amount
    returned = "<RtrInf><Rsn><Cd>AC01</Cd></Rsn></RtrInf></TxDtls>"
    back = camt(entry("OWN-1", "75.00", "RETOUR VIR", "E2E-OWN").replace("</TxDtls>", returned), statement_id="S-OWN")
    paid = camt(entry("K-1", "480.00", "FACT SD-1", "E2E-K"), statement_id="S-K1")
    redone = camt(entry("K-1", "490.00", "FACT SD-1", "E2E-K"), statement_id="S-K2")
    assert [o.decision for o in (await imported(parse_camt(back))).outcomes] == ["ours_back"]
    assert [o.decision for o in (await imported(parse_camt(paid))).outcomes] == ["credit"]  # SD-1 is paid already
    (conflict,) = (await imported(parse_camt(redone))).outcomes
    assert conflict.decision == "conflict"
    assert conflict.detail.startswith(
        "entry K-1@2026-05-12 was imported from camt.053.001.08 S-K1 as C 480.00 EUR 2026-05-12; this file says "
        "C 490.00 EUR 2026-05-12 (task #"
    )
    (task,) = [t for t in list_tasks(engine, today=date(2026, 5, 12)) if t.kind == "bank_conflict"]
    assert "Nothing was applied" in task.script
    assert [o.decision for o in (await imported(parse_camt(redone))).outcomes] == ["conflict"]  # still one task
    assert len([t for t in list_tasks(engine, today=date(2026, 5, 12)) if t.kind == "bank_conflict"]) == 1
    report = build_report(engine, date(2026, 5, 12))  # our own money back is no customer's credit
    assert (report.bank_credits, report.bank_matched) == (3, 2)
    await env.client.get_workflow_handle("invoice-F-1001").terminate(reason="test finished")
