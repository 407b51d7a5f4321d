"""Settlement offers and early-payment discounts: the debtor gets the terms, paid in time the case closes as
settled with the concession in the ledger and the report, unpaid the offer lapses and chasing resumes."""

from datetime import date
from decimal import Decimal
from email import message_from_bytes
from email.policy import default

import pytest
from temporalio.client import WorkflowUpdateFailedError

from relance.domain import arrangements
from relance.domain.actions import SettlementOffered
from relance.domain.case import CaseState
from relance.domain.errors import Rejected
from relance.domain.settlement import Waivable, offer_refusal
from relance.ledger.db import engine_for
from relance.ledger.reports import Amount, build_report
from tests.builders import case, invoice, minute, paris

START = paris(2026, 4, 20, 8)
PRI, INT, IND = Waivable.principal, Waivable.interest, Waivable.indemnity
D = Decimal


def mail_body(settings, name: str) -> str:
    return message_from_bytes((settings.outbox_dir / f"{name}.eml").read_bytes(), policy=default).get_content()


@pytest.mark.parametrize(
    ("amount", "pay_by", "waive", "expected"),
    [
        ("1000", date(2026, 5, 15), [PRI, INT, IND], None),
        ("1250", date(2026, 5, 15), [INT, IND], None),  # the whole principal, penalties given up
        ("1225", date(2026, 4, 28), [PRI], None),  # an early-payment discount of 2 % before the due date
        ("900", date(2026, 5, 1), [PRI], "pay_by 2026-05-01 is in the past (today is 2026-05-05)"),
        (
            "1250",
            date(2026, 5, 15),
            [PRI],
            "amount 1250 waives no principal (the balance is 1250): remove principal from waive",
        ),
        (
            "1000",
            date(2026, 5, 15),
            [INT],
            "amount 1000 differs from the balance 1250: without principal in waive, the debtor pays the whole "
            "balance and only interest or the indemnity is given up",
        ),
    ],
)
def test_which_terms_can_be_offered(amount, pay_by, waive, expected):
    today = date(2026, 5, 5) if pay_by != date(2026, 4, 28) else date(2026, 4, 20)
    assert offer_refusal(D(amount), pay_by, waive, D("1250"), today) == expected


def offered(state: CaseState, **terms: object) -> None:
    action = SettlementOffered.model_validate(
        {"amount": "1000", "pay_by": "2026-05-15", "waive": ["principal"], "reason": "geste commercial", **terms}
    )
    state.check(action, paris(2026, 5, 5, 12))
    state.apply(action, paris(2026, 5, 5, 12))


def test_one_offer_at_a_time_and_not_during_a_dispute():
    state = case()
    offered(state)
    with pytest.raises(Rejected, match="settlement offer 1: 1000 EUR by 2026-05-15, waiving principal is still open"):
        offered(state)
    assert (state.stage(paris(2026, 5, 5, 12)), minute(arrangements.offer_deadline(state))) == (
        "settlement_offer",
        paris(2026, 5, 19),  # pay_by and 3 days of grace
    )
    with pytest.raises(ValueError, match="waive names a part twice"):
        SettlementOffered.model_validate(
            {"amount": "1000", "pay_by": "2026-05-15", "waive": ["interest", "interest"], "reason": "x"}
        )


async def test_a_settlement_paid_in_time_closes_the_case_with_its_concession_in_the_report(open_case, worker):
    case_ = await open_case(invoice("SET-1", starts_at=START))
    await case_.advance_to(paris(2026, 5, 5, 12))
    terms = {"amount": "1000", "pay_by": "2026-05-15", "waive": ["principal", "interest", "indemnity"]}
    status = await case_.update("settlement_offered", {**terms, "reason": "client historique", "by": "marie"})
    assert (status.state, status.stage, status.pause_reason) == (
        "paused",
        "settlement_offer",
        "settlement offer 1: 1000 EUR by 2026-05-15, waiving principal, interest, indemnity",
    )
    assert (status.next_step.kind, minute(status.next_step.at)) == ("offer_check", paris(2026, 5, 19))
    await case_.advance_to(paris(2026, 5, 6, 12))
    body = mail_body(worker, "invoice-SET-1_settlement-1-offer")
    assert "un règlement de\n1\u202f000,00\xa0€ au lieu de 1\u202f250,00\xa0€" in " ".join(body.split(" "))
    assert "au plus tard le 15 mai 2026" in body
    assert (
        "nous renonçons au solde de 250,00\xa0€ ainsi qu'aux pénalités de retard et à l'indemnité forfaitaire "
        "pour frais de recouvrement, et la facture sera considérée comme réglée." in body
    )

    await case_.advance_to(paris(2026, 5, 12, 10))
    status = await case_.update("payment_received", {"amount": "1000", "paid_on": "2026-05-12", "reference": "V-1"})
    assert (status.state, status.outcome, status.balance, status.conceded) == ("closed", "settled", 0, D("250.00"))
    (kept,) = [h for h in status.history if h.event == "settlement_kept"]
    assert kept.detail == (
        "settlement offer 1 kept: 250.00 EUR of principal given up (waived: principal, interest, indemnity)"
    )
    await case_.env.sleep(60)
    report = build_report(engine_for(worker.database_url), date(2026, 5, 12))
    assert report.concessions == [Amount("settled", "EUR", 1, D("250.00"))]


async def test_an_unpaid_offer_lapses_and_chasing_resumes(open_case, worker):
    case_ = await open_case(invoice("SET-2", starts_at=START))
    await case_.advance_to(paris(2026, 5, 5, 12))
    terms = {"amount": "1250", "pay_by": "2026-05-07", "waive": ["interest"], "reason": "si paiement rapide"}
    await case_.update("settlement_offered", terms)
    status = await case_.advance_to(paris(2026, 5, 12, 12))
    lapsed = [h.detail for h in status.history if h.event in ("settlement_lapsed", "escalation")]
    assert lapsed == [
        "settlement offer 1: 1250 EUR by 2026-05-07, waiving interest lapsed; paid 0",
        "settlement offer lapsed; the policy names no escalation step, chasing resumes",
    ]
    # reminder-2 (11 May) fell due while the offer was open: it runs when the offer lapses (11 May 00:00 is
    # the end of the grace, so 09:00 that day)
    assert [(s.step_id, s.status, minute(s.at)) for s in status.steps][-1] == (
        "reminder-2",
        "done",
        paris(2026, 5, 11, 9),
    )
    assert status.stage != "settlement_offer" and status.outcome is None


async def test_a_bad_offer_is_refused_with_its_reason(open_case, worker):
    case_ = await open_case(invoice("SET-3", starts_at=START))
    bad = {"amount": "1300", "pay_by": "2026-05-15", "waive": ["principal"], "reason": "x"}
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await case_.update("settlement_offered", bad)
    assert str(refused.value.cause) == (
        "Rejected: amount 1300 waives no principal (the balance is 1250.00): remove principal from waive"
    )
