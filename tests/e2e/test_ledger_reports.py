"""The SQL ledger and its reports on SQLite and PostgreSQL, with figures computed by hand.

Portfolio at 30 June 2026 (EUR unless said):
  A 1000.00 due 30/06, open                          -> not yet due
  B 2500.00 due 10/06, paid 1000.00 (reminder, email), promise broken -> 1-30, balance 1500.00
  C  800.00 due 20/04, disputed "goods damaged"      -> 61-90
  D  333.33 due 01/02, disputed "goods damaged"      -> over 90
  E 1200.00 due 15/05, paid in full (final_reminder, phone), promise kept -> closed
  F  500.00 USD due 01/06, open                      -> 1-30 (USD)
  G   90.10 due 29/06, issued 01/03, disputed "price disagreement" -> 1-30
DSO (90 days, sales issued after 01/04): EUR (1000 + 1500 + 800 + 333.33 + 90.10) / (1000 + 2500 + 1200) x 90
  = 3723.43 / 4700 x 90 = 71.3; USD 500 / 500 x 90 = 90.0.
"""

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from activities.ledger import CASE_COLUMNS, LedgerWriter, case_row
from activities.side_effects import Claim, SideEffects
from relance.domain.account import CustomerHoldNotice
from relance.domain.activity_contract import LedgerEntry, LedgerUpdate
from relance.domain.case_records import HistoryEntry, PaymentRecord
from relance.ledger.customer_days import (
    claim_day,
    customer_hold,
    others_open,
    set_customer_hold,
    what_a_new_case_reads,
)
from relance.ledger.customer_view import (
    STANDING_WORDS,
    CustomerMatch,
    Due,
    OpenCase,
    UnknownCustomer,
    customer_view,
    search_customers,
    standing_card,
    standing_code,
    standing_of,
)
from relance.ledger.db import CaseEvent, CaseRow, PaymentRow, RejectedInput, SideEffect, engine_for
from relance.ledger.rejections import keep_rejections, rejected_action
from relance.ledger.reports import Amount, aging_chart, build_report
from tests.builders import ROOT, invoice

AT = datetime(2026, 6, 30, 12, tzinfo=UTC)


def update(
    invoice_id, amount, due, issued, balance, *, currency="EUR", outcome=None, events=(), payments=(), cause=None
):
    case = invoice(invoice_id, amount=amount, due=due, issued=issued, currency=currency)
    entries = [HistoryEntry(at=AT, event="case_opened", detail="opened")] + [
        HistoryEntry(at=AT, event=name, detail=detail) for name, detail in events
    ]
    return LedgerUpdate(
        case_id=case.workflow_id,
        case=case,
        policy="b2b-standard@v1",
        stage="reminder",
        balance=Decimal(balance),
        outcome=outcome,
        opened_at=AT,
        closed_at=AT if outcome else None,
        events=[LedgerEntry(seq=i, entry=e) for i, e in enumerate(entries)],
        payments=[
            PaymentRecord(amount=Decimal(a), paid_on=p, reference=r, recorded_at=AT, stage=s, channel=c)
            for a, p, r, s, c in payments
        ],
        lateness_cause=cause,
    )


PORTFOLIO = [
    update("A", "1000.00", date(2026, 6, 30), date(2026, 5, 31), "1000.00"),
    update(
        "B",
        "2500.00",
        date(2026, 6, 10),
        date(2026, 5, 11),
        "1500.00",
        events=[("promise_to_pay", "promise"), ("promise_broken", "broken")],
        cause="cash_flow",
        payments=[("1000.00", date(2026, 6, 15), "VIR-B", "reminder", "email")],
    ),
    update(
        "C",
        "800.00",
        date(2026, 4, 20),
        date(2026, 3, 21),
        "800.00",
        events=[("dispute_opened", "dispute opened: goods damaged; chasing paused")],
        cause="dispute",
    ),
    update(
        "D",
        "333.33",
        date(2026, 2, 1),
        date(2026, 1, 2),
        "333.33",
        events=[("dispute_opened", "dispute opened: goods damaged; chasing paused")],
        cause="dispute",
    ),
    update(
        "E",
        "1200.00",
        date(2026, 5, 15),
        date(2026, 4, 15),
        "0",
        outcome="paid",
        events=[("promise_to_pay", "promise"), ("promise_kept", "kept")],
        payments=[("1200.00", date(2026, 5, 20), "VIR-E", "final_reminder", "phone")],
    ),
    update("F", "500.00", date(2026, 6, 1), date(2026, 5, 2), "500.00", currency="USD"),
    update(
        "G",
        "90.10",
        date(2026, 6, 29),
        date(2026, 3, 1),
        "90.10",
        events=[("dispute_opened", "dispute opened: price disagreement; chasing paused")],
        cause="billing_error",
    ),
]


def load(url: str) -> None:
    writer = LedgerWriter(engine_for(url))
    for item in PORTFOLIO:
        assert writer.write(item) == len(item.events)
    for item in PORTFOLIO:  # a retried activity writes nothing twice
        assert writer.write(item) == 0


def test_a_case_is_written_with_every_column_of_its_row():
    """The upsert sets every column it names from what it inserts: one left out would be set to its default."""
    assert set(CASE_COLUMNS) == {column.name for column in CaseRow.__table__.columns}
    assert tuple(case_row(PORTFOLIO[0])) == CASE_COLUMNS


def test_ledger_writes_are_idempotent(ledger_url):
    load(ledger_url)
    with Session(engine_for(ledger_url)) as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 7
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == 7 + 7
        assert session.execute(
            select(PaymentRow.reference, PaymentRow.amount).order_by(PaymentRow.reference)
        ).all() == [("VIR-B", Decimal("1000.00")), ("VIR-E", Decimal("1200.00"))]
        assert session.get(CaseRow, "invoice-D").balance == Decimal("333.33")


def test_reports_on_the_fixture_portfolio(ledger_url):
    load(ledger_url)
    report = build_report(engine_for(ledger_url), date(2026, 6, 30))
    assert [(a.label, a.currency, a.count, a.amount) for a in report.aging] == [
        ("not yet due", "EUR", 1, Decimal("1000.00")),
        ("1-30", "EUR", 2, Decimal("1590.10")),
        ("31-60", "EUR", 0, Decimal("0.00")),
        ("61-90", "EUR", 1, Decimal("800.00")),
        ("over 90", "EUR", 1, Decimal("333.33")),
        ("not yet due", "USD", 0, Decimal("0.00")),
        ("1-30", "USD", 1, Decimal("500.00")),
        ("31-60", "USD", 0, Decimal("0.00")),
        ("61-90", "USD", 0, Decimal("0.00")),
        ("over 90", "USD", 0, Decimal("0.00")),
    ]
    assert report.dso_days == {"EUR": Decimal("71.3"), "USD": Decimal("90.0")}
    assert report.recovered_by_stage == [
        Amount("final_reminder", "EUR", 1, Decimal("1200.00")),
        Amount("reminder", "EUR", 1, Decimal("1000.00")),
    ]
    assert report.recovered_by_channel == [
        Amount("email", "EUR", 1, Decimal("1000.00")),
        Amount("phone", "EUR", 1, Decimal("1200.00")),
    ]
    assert (report.promises_made, report.promises_kept, report.promises_broken, report.promise_kept_rate) == (
        2,
        1,
        1,
        Decimal("0.500"),
    )
    assert (report.cases, report.disputed_cases, report.dispute_rate) == (7, 3, Decimal("0.429"))
    assert report.dispute_causes == [("goods damaged", 2), ("price disagreement", 1)]
    assert report.lateness_causes == [
        Amount("dispute", "EUR", 2, Decimal("1133.33")),
        Amount("billing_error", "EUR", 1, Decimal("90.10")),
        Amount("cash_flow", "EUR", 1, Decimal("2500.00")),
    ]


def test_report_command_prints_table_csv_and_chart(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    load(url)
    csv_path, png_path = tmp_path / "aging.csv", tmp_path / "aging.png"

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relance.cli.main", "report", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"RELANCE_DATABASE_URL": url, "COLUMNS": "160", "PATH": ""},
        )

    result = report("--as-of", "2026-06-30", "--csv", str(csv_path), "--chart", str(png_path))
    assert result.returncode == 0, result.stderr
    assert "DSO EUR 71.3 days" in result.stdout
    assert "promises kept 1 of 2 settled (50.0 %)" in result.stdout
    assert csv_path.read_text().splitlines()[:3] == [
        "bucket,currency,count,amount",
        "not yet due,EUR,1,1000.00",
        "1-30,EUR,2,1590.10",
    ]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    causes = result.stdout[result.stdout.index("Causes of lateness") :]
    assert [line.split("│")[1].strip() for line in causes.splitlines() if "EUR" in line] == [
        "dispute",
        "billing_error",
        "cash_flow",
    ]
    assert "rates:" not in result.stdout  # the shipped rates cover 30 June 2026

    later = report("--as-of", "2026-07-15")
    assert later.returncode == 0, later.stderr
    assert "rates: the rates file rates/france.yaml does not cover 2026-07-01 onwards: add the ECB" in later.stdout


def test_aging_chart_draws_a_png(tmp_path: Path):
    aging_chart(
        [Amount(b, "EUR", 1, Decimal("10.00")) for b in ("not yet due", "1-30", "31-60", "61-90", "over 90")],
        str(tmp_path / "a.png"),
    )
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_customer_view_from_the_ledger(ledger_url):
    """C-ACME holds the whole fixture portfolio; C-OTHER one disputed case that must not leak into it.

    Open: A (due 30/06, 0 days), B (20), C (71), D (149), F (USD, 29), G (1) -> overdue mean 270 / 5 = 54.0.
    Payments: B 15/06 for 10/06 and E 20/05 for 15/05 -> 5 and 5 days late, mean 5.0.
    """
    load(ledger_url)
    engine = engine_for(ledger_url)
    other = update("Z", "70.00", date(2026, 6, 1), date(2026, 5, 1), "70.00", events=[("dispute_opened", "x")])
    other.case.customer.id = "C-OTHER"
    other.stage = "disputed"
    LedgerWriter(engine).write(other)

    acme = customer_view(engine, "C-ACME", date(2026, 6, 30))
    assert [(c.invoice_id, c.days_late, c.balance) for c in acme.open_cases] == [
        ("D", 149, Decimal("333.33")),
        ("C", 71, Decimal("800.00")),
        ("F", 29, Decimal("500.00")),
        ("B", 20, Decimal("1500.00")),
        ("G", 1, Decimal("90.10")),
        ("A", 0, Decimal("1000.00")),
    ]
    assert acme.balance == {"EUR": Decimal("3723.43"), "USD": Decimal("500.00")}
    assert (acme.cases, acme.payments, acme.average_days_late_paid, acme.average_days_late_open) == (
        7,
        2,
        Decimal("5.0"),
        Decimal("54.0"),
    )
    assert (acme.promises_made, acme.promises_kept, acme.promises_broken) == (2, 1, 1)
    assert (acme.disputes_opened, acme.disputes_open) == (3, 0)
    assert acme.lateness_causes == {"billing_error": 1, "cash_flow": 1, "dispute": 2}
    # payments 5 and 5 days late (+5), 1 broken promise (+10), 3 disputes (+15), 3723.43 overdue (+5),
    # first invoice 02/01/2026, 179 days before (+10), a cash-flow difficulty (+10)
    assert (acme.standing, acme.risk.score, acme.risk.level) == ("overdue", 55, "high")
    assert acme.risk.reasons[-1] == "cash-flow difficulty reported on 1 invoice(s) (+10)"
    assert acme.risk.reasons[0] == "pays 5.0 days late on average over 2 payments (+5)"

    zed = customer_view(engine, "C-OTHER", date(2026, 6, 30))
    assert (zed.cases, zed.disputes_opened, zed.disputes_open, zed.balance) == (1, 1, 1, {"EUR": Decimal("70.00")})
    assert zed.average_days_late_paid is None
    assert zed.standing == "in dispute"
    with pytest.raises(UnknownCustomer, match="no case for customer C-NOBODY in the ledger"):
        customer_view(engine, "C-NOBODY", date(2026, 6, 30))


def open_case(stage: str, days_late: int) -> OpenCase:
    return OpenCase("X", "EUR", Decimal("10.00"), Decimal("10.00"), date(2026, 6, 1), days_late, stage)


@pytest.mark.parametrize(
    ("cases", "expected"),
    [
        ([], "good"),
        ([open_case("reminder", 0)], "good"),
        ([open_case("pre_due", 0), open_case("reminder", 3)], "overdue"),
        ([open_case("promise_to_pay", 9)], "overdue"),
        ([open_case("customer_hold", 9), open_case("reminder", 9)], "on_hold"),
        ([open_case("paused", 0)], "on_hold"),
        ([open_case("disputed", 4), open_case("paused", 9)], "disputed"),
        ([open_case("formal_notice", 40), open_case("disputed", 4)], "formal_notice"),
        ([open_case("court", 80), open_case("formal_notice", 40)], "court"),
        ([open_case("agency", 90), open_case("court", 80)], "agency"),
    ],
)
def test_the_standing_is_the_gravest_open_case(cases, expected):
    assert standing_code(cases) == expected
    assert standing_of(cases) == STANDING_WORDS[expected]


def logged(seq: int, at: datetime, event: str, detail: str, **data: str) -> LedgerEntry:
    return LedgerEntry(seq=seq, entry=HistoryEntry(at=at, event=event, detail=detail, data=data))


def test_the_standing_card_and_the_customer_search(ledger_url):
    """What sales see: open and overdue money per currency, promises and plans with their dues, the last contact;
    and customers found by a part of their name or id, `%` and `_` taken literally."""
    load(ledger_url)
    engine = engine_for(ledger_url)
    promised = update("P", "600.00", date(2026, 6, 10), date(2026, 5, 11), "600.00")
    promised.stage = "promise_to_pay"
    promised.events.append(
        logged(1, datetime(2026, 6, 20, 9, tzinfo=UTC), "promise_to_pay", "promise to pay 600.00 EUR by 2026-07-03",
               promised_on="2026-07-03", amount="600.00")
    )  # fmt: skip
    planned = update("Q", "1250.00", date(2026, 6, 5), date(2026, 5, 6), "1250.00")
    planned.stage = "payment_plan"
    plan_line = "payment plan of 2: 600.00 on 2026-07-09, 650.00 on 2026-07-24"
    planned.events.append(logged(1, datetime(2026, 6, 22, 9, tzinfo=UTC), "payment_plan_agreed", plan_line))
    reminded = "reminder-2: e-mail to x@y.example"
    planned.events.append(logged(2, datetime(2026, 6, 30, 15, tzinfo=UTC), "step_done", reminded))
    for item in (promised, planned):
        LedgerWriter(engine).write(item)
    other = update("Z", "70.00", date(2026, 6, 1), date(2026, 5, 1), "70.00")
    other.case.customer.id, other.case.customer.name = "C-100%_SUD", "Sud 100% Bio"
    LedgerWriter(engine).write(other)

    card = standing_card(engine, "C-ACME", date(2026, 6, 30))
    assert (card.standing, card.oldest_days_late) == ("overdue", 149)
    assert card.balance == {"EUR": Decimal("5573.43"), "USD": Decimal("500.00")}
    assert card.overdue == {"EUR": Decimal("4573.43"), "USD": Decimal("500.00")}  # A is due today
    assert [(a.invoice_id, a.kind, a.dues) for a in card.arrangements] == [
        ("Q", "plan", [Due(date(2026, 7, 9), Decimal("600.00")), Due(date(2026, 7, 24), Decimal("650.00"))]),
        ("P", "promise", [Due(date(2026, 7, 3), Decimal("600.00"))]),
    ]
    assert card.last_contact_at == datetime(2026, 6, 30, 15, tzinfo=UTC)  # after the promises of B and E (AT)
    assert "x@y.example" not in repr(card.as_dict())

    assert [m.customer_id for m in search_customers(engine, "acm")] == ["C-ACME"]
    assert search_customers(engine, "100%") == [CustomerMatch("C-100%_SUD", "Sud 100% Bio", 1)]
    assert search_customers(engine, "%") == [CustomerMatch("C-100%_SUD", "Sud 100% Bio", 1)]
    assert search_customers(engine, "_") == [CustomerMatch("C-100%_SUD", "Sud 100% Bio", 1)]
    assert search_customers(engine, "  ") == []
    with pytest.raises(UnknownCustomer):
        standing_card(engine, "C-NOBODY", date(2026, 6, 30))


def test_a_refusal_is_kept_and_a_ledger_out_of_reach_does_not_hide_it(ledger_url, tmp_path):
    engine = engine_for(ledger_url)
    refusal = rejected_action("F-1", "resume", {"by": "ops"}, "resume refused for F-1: not paused", "ops")
    assert keep_rejections(engine, [refusal]) is None
    with Session(engine) as session:
        kept = session.scalars(select(RejectedInput)).all()
    assert [(r.source, r.invoice_id, r.action, r.reason) for r in kept] == [
        ("ops_action", "F-1", "resume", "resume refused for F-1: not paused")
    ]
    unreachable = create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'ledger.db'}")
    again = rejected_action("F-1", "resume", {}, "refused", "ops")
    failed = keep_rejections(unreachable, [again])
    assert failed is not None and "unable to open database file" in failed


def test_what_one_voice_reads_and_claims_in_the_ledger(ledger_url):
    """The statements built once in relance/ledger/customer_days.py, on both databases: the other open cases a
    case counts, the hold it reads, and the day a message claims (the day's holder wins; its own key may retry)."""
    load(ledger_url)
    engine = engine_for(ledger_url)
    assert what_a_new_case_reads(engine, "C-ACME", "invoice-A") == (5, None)  # B, C, D, F, G (E is paid)
    assert others_open(engine, "C-ACME", None) == 6
    assert what_a_new_case_reads(engine, "C-NOBODY", "invoice-X") == (0, None)
    hold = CustomerHoldNotice(kind="hold", reason="négociation", until=date(2026, 7, 1), by="ops")
    set_customer_hold(engine, "C-ACME", hold)
    assert what_a_new_case_reads(engine, "C-ACME", "invoice-A") == (5, hold)
    assert customer_hold(engine, "C-ACME") == hold
    assert claim_day(engine, "C-ACME", date(2026, 7, 2), "invoice-A:courtesy") is None
    assert claim_day(engine, "C-ACME", date(2026, 7, 2), "invoice-A:courtesy") is None  # a retry of the same
    assert claim_day(engine, "C-ACME", date(2026, 7, 2), "customer-C-ACME:batch-1") == "invoice-A:courtesy"


def test_a_side_effects_claim_makes_it_at_most_once_on_both_databases(ledger_url):
    """The claim protocol of activities/side_effects.py (statements built once), on SQLite and PostgreSQL."""
    engine = engine_for(ledger_url)
    guard, key = SideEffects(engine), "invoice-A:courtesy"
    assert guard.claim(key, "invoice-A", "courtesy", "email") == Claim("new")
    assert guard.claim(key, "invoice-A", "courtesy", "email") == Claim("in_doubt")  # claimed, never confirmed
    guard.release(key, "SendGrid answered 500")
    assert guard.claim(key, "invoice-A", "courtesy", "email") == Claim("new")  # a failure may be tried again
    guard.confirm(key, "msg-2", "Facture A : échéance")
    assert guard.claim(key, "invoice-A", "courtesy", "email") == Claim("sent", "msg-2")
    with Session(engine) as session:
        row = session.get(SideEffect, key)
        assert (row.status, row.attempts, row.provider_id, row.detail) == ("sent", 2, "msg-2", "Facture A : échéance")
        assert row.updated_at >= row.created_at
    with pytest.raises(LookupError, match="no claim for side effect invoice-Z:courtesy"):
        guard.confirm("invoice-Z:courtesy", "msg-9", "never claimed")
