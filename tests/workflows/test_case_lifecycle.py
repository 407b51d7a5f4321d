"""Ops actions on running cases: payments, disputes, promises, plans, pauses, contact changes."""

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from relance.ledger.db import CaseEvent, CaseRow, engine_for
from starter.executions import execution_status
from tests.builders import invoice, minute, paris
from tests.conftest import outbox_messages, until_idle

START = paris(2026, 4, 20, 8)  # the case clock's origin; the invoice is due Thursday 30 April 2026


def body_of(settings, name: str) -> str:
    mail = message_from_bytes((settings.outbox_dir / f"{name}.eml").read_bytes(), policy=default)
    return mail.get_content()


def done_steps(status) -> list[str]:
    return [s.step_id for s in status.steps if s.status == "done"]


def events(status) -> list[str]:
    return [h.event for h in status.history]


async def test_payment_before_first_reminder_sends_nothing(open_case, worker):
    case = await open_case(invoice("PAY-1", starts_at=START))
    await case.advance_to(paris(2026, 4, 22, 11))
    status = await case.update("payment_received", {"amount": "1250.00", "paid_on": "2026-04-22", "reference": "VIR-1"})
    assert (status.state, status.outcome, status.balance) == ("closed", "paid", Decimal("0"))
    await case.env.sleep(60 * 60 * 24 * 60)
    assert outbox_messages(worker) == []
    assert await execution_status(case.env.client, case.handle.id) == WorkflowExecutionStatus.COMPLETED


async def test_partial_payment_shows_new_amount_in_next_message(open_case, worker):
    case = await open_case(invoice("PART-1", starts_at=START))
    await case.advance_to(paris(2026, 4, 28, 12))
    assert "1\u202f250,00\xa0€" in body_of(worker, "invoice-PART-1_courtesy")
    status = await case.update("payment_received", {"amount": "500", "paid_on": "2026-04-28", "reference": "CHQ-7"})
    assert (status.balance, status.total_paid, status.state) == (Decimal("750.00"), Decimal("500"), "open")
    await case.advance_to(paris(2026, 5, 4, 12))
    body = body_of(worker, "invoice-PART-1_reminder-1")
    assert "Le montant restant dû est de 750,00\xa0€." in body
    assert (
        "Nous avons bien reçu 500,00\xa0€ ; il reste 750,00\xa0€ à régler sur un total de 1\u202f250,00\xa0€."
    ) in body


async def test_overpayment_is_recorded(open_case, worker):
    case = await open_case(invoice("OVER-1", starts_at=START))
    status = await case.update("payment_received", {"amount": "1300", "paid_on": "2026-04-20", "reference": "X1"})
    assert (status.outcome, status.balance, status.overpaid) == ("paid", Decimal("0"), Decimal("50"))
    assert "overpaid by 50.00 EUR" in status.history[-1].detail


async def test_a_dispute_freezes_the_clock_and_the_debtor_is_told_it_was_rejected(open_case, worker):
    """Disputed on day 2, rejected on day 60: the case resumes with the next friendly step, 58 days later
    than planned, and the debtor learns the outcome and the date to pay by (not a registered letter)."""
    case = await open_case(invoice("DSP-1", starts_at=START))
    await case.advance_to(paris(2026, 5, 2, 12))
    status = await case.update("dispute_opened", {"reason": "goods damaged on delivery", "by": "marie"})
    # nothing is planned while the dispute lasts, but the warning before limitation (5 years on, less 90 days)
    assert (status.state, status.stage, status.next_step.kind) == ("paused", "disputed", "limitation_warning")
    assert minute(status.next_step.at) == paris(2031, 1, 30)
    assert status.pause_reason == "dispute: goods damaged on delivery"
    status = await case.advance_to(paris(2026, 6, 29, 12))
    assert done_steps(status) == ["courtesy"]  # reminder-1 was due Monday 4 May (1 May is a holiday)
    status = await case.update("dispute_resolved", {"outcome": "rejected", "by": "marie"})
    assert status.state == "open"
    # reminder-1 (day 1) moves 58 days (2 May to 29 June) to 28 June, a Sunday: Monday 29, and then 3 days
    # after this exchange with the debtor, Thursday 2 July
    assert (status.next_step.id, minute(status.next_step.at)) == ("reminder-1", paris(2026, 7, 2, 9))
    (shift,) = [h.detail for h in status.history if h.event == "clock_shifted"]
    assert shift == "58 days on hold (dispute) do not count: the steps still ahead move 58 days later"

    status = await case.advance_to(paris(2026, 7, 3, 12))
    assert [(s.step_id, s.status) for s in status.steps] == [("courtesy", "done"), ("reminder-1", "done")]
    informed = [h.detail for h in status.history if h.event == "debtor_informed"]
    assert informed == [
        "dispute-1-rejected: e-mail to compta@acme.example: Facture DSP-1 : réponse à votre contestation"
    ]
    body = body_of(worker, "invoice-DSP-1_dispute-1-rejected")
    assert (
        "nous ne pouvons pas y donner suite : la facture est confirmée et le montant de\n1\u202f250,00\xa0€ reste dû."
        in body
    )
    assert "procéder au règlement avant le 2 juillet 2026." in body


async def test_a_dispute_partly_then_wholly_accepted_is_told_to_the_debtor(open_case, worker):
    case = await open_case(invoice("DSP-2", starts_at=START))
    await case.update("dispute_opened", {"reason": "two items missing"})
    status = await case.update("dispute_resolved", {"outcome": "partially_accepted", "credited_amount": "250"})
    assert (status.balance, status.credited, status.state) == (Decimal("1000.00"), Decimal("250"), "open")
    assert "clock_shifted" not in events(status)  # a dispute before the due date delays nothing
    await case.advance_to(paris(2026, 4, 20, 10))  # told at 09:00, when the sending window opens
    body = body_of(worker, "invoice-DSP-2_dispute-1-partially_accepted")
    assert "retenue en partie : un avoir de 250,00\xa0€ est établi en votre faveur." in body
    assert "Le solde restant dû sur cette facture est désormais de 1\u202f000,00\xa0€." in body
    assert "avant le 27 avril 2026" in body  # the courtesy note (25 April, a Saturday) comes on Monday 27

    await case.update("dispute_opened", {"reason": "whole order refused"})
    status = await case.update("dispute_resolved", {"outcome": "accepted"})
    assert (status.state, status.outcome, status.balance) == ("closed", "cancelled", Decimal("0"))
    await case.advance_to(paris(2026, 4, 20, 11))  # the closed case still tells the debtor, then ends
    body = body_of(worker, "invoice-DSP-2_dispute-2-accepted")
    assert "raison : un avoir de 1\u202f000,00\xa0€ est établi en votre faveur." in body
    assert "Vous ne nous devez plus rien au titre de cette facture et nos relances s'arrêtent." in body


async def test_promise_kept_closes_the_case(open_case, worker):
    case = await open_case(invoice("PRM-1", starts_at=START))
    await case.advance_to(paris(2026, 5, 5, 12))
    status = await case.update("promise_to_pay", {"promised_on": "2026-05-12"})
    assert (status.stage, status.next_step.kind) == ("promise_to_pay", "promise_check")
    assert minute(status.next_step.at) == paris(2026, 5, 15)  # promised date + 2 grace days, end of day
    await case.advance_to(paris(2026, 5, 12, 15))
    status = await case.update("payment_received", {"amount": "1250", "paid_on": "2026-05-12", "reference": "P1"})
    assert status.outcome == "paid"
    assert done_steps(status) == ["courtesy", "reminder-1"]


async def test_partial_promise_kept_resumes_chasing_after_a_quiet_gap(open_case, worker):
    case = await open_case(invoice("PRM-2", starts_at=START))
    await case.advance_to(paris(2026, 5, 5, 12))
    await case.update("promise_to_pay", {"promised_on": "2026-05-12", "amount": "500"})
    await case.advance_to(paris(2026, 5, 11, 10))
    status = await case.update("payment_received", {"amount": "500", "paid_on": "2026-05-11", "reference": "P2"})
    assert "promise_kept" in events(status) and status.state == "open"
    status = await case.advance_to(paris(2026, 5, 20, 12))
    at = {s.step_id: minute(s.at) for s in status.steps if s.status == "done"}
    # reminder-2 (11 May 09:00) was due when the promise was kept at 10:00; it waits 3 days after that
    # exchange (14 May is Ascension Day), and call-1 keeps 3 days after it (17 May is a Sunday).
    assert (at["reminder-2"], at["call-1"]) == (paris(2026, 5, 15, 9), paris(2026, 5, 18, 9))
    assert "Le montant restant dû est de 750,00" not in "".join(outbox_messages(worker))


async def test_promise_broken_escalates_to_the_named_step(open_case, worker):
    case = await open_case(invoice("PRM-3", starts_at=START))
    await case.advance_to(paris(2026, 5, 5, 12))
    await case.update("promise_to_pay", {"promised_on": "2026-05-12"})
    status = await case.advance_to(paris(2026, 5, 16, 12))
    assert "promise_broken" in events(status)
    records = {(s.step_id, s.status): minute(s.at) for s in status.steps}
    assert records[("reminder-2", "skipped")] == paris(2026, 5, 15)
    assert records[("call-1", "skipped")] == paris(2026, 5, 15)
    assert records[("final-reminder", "done")] == paris(2026, 5, 15, 9)
    assert status.stage == "final_reminder"


async def test_payment_plan_kept_reminds_before_each_installment(open_case, worker):
    case = await open_case(invoice("PLN-1", starts_at=START))
    await case.advance_to(paris(2026, 5, 5, 12))
    plan = {"installments": [{"due_on": "2026-05-15", "amount": "600"}, {"due_on": "2026-06-15", "amount": "650"}]}
    status = await case.update("payment_plan_agreed", plan)
    assert (status.stage, status.next_step.kind) == ("payment_plan", "installment_reminder")
    assert minute(status.next_step.at) == paris(2026, 5, 12, 9)
    await case.advance_to(paris(2026, 5, 14, 12))
    await case.update("payment_received", {"amount": "600", "paid_on": "2026-05-14", "reference": "I1"})
    await case.advance_to(paris(2026, 6, 13, 12))
    status = await case.update("payment_received", {"amount": "650", "paid_on": "2026-06-13", "reference": "I2"})
    assert status.outcome == "paid"
    assert outbox_messages(worker) == [
        "invoice-PLN-1_courtesy.eml",
        "invoice-PLN-1_plan1-installment1-reminder.eml",
        "invoice-PLN-1_plan1-installment2-reminder.eml",
        "invoice-PLN-1_reminder-1.eml",
    ]
    body = body_of(worker, "invoice-PLN-1_plan1-installment2-reminder")
    assert "l'échéance 2\nsur 2, d'un montant de 650,00\xa0€, est à régler le 15 juin 2026" in body
    assert "installment_kept" in events(status)


async def test_missed_installment_escalates(open_case, worker):
    case = await open_case(invoice("PLN-2", starts_at=START))
    await case.advance_to(paris(2026, 5, 5, 12))
    await case.update(
        "payment_plan_agreed",
        {"installments": [{"due_on": "2026-05-15", "amount": "600"}, {"due_on": "2026-06-15", "amount": "650"}]},
    )
    await case.advance_to(paris(2026, 5, 15, 12))
    await case.update("payment_received", {"amount": "100", "paid_on": "2026-05-15", "reference": "I1"})
    status = await case.advance_to(paris(2026, 5, 20, 12))
    missed = next(h for h in status.history if h.event == "installment_missed")
    assert minute(missed.at) == paris(2026, 5, 19)
    assert missed.detail == "installment 1 of 600 due 2026-05-15 missed: 100 paid of 600 due so far"
    final = next(s for s in status.steps if s.step_id == "final-reminder")
    assert (final.status, minute(final.at)) == ("done", paris(2026, 5, 19, 9))
    assert status.stage == "final_reminder"


async def test_manual_pause_until_a_date_then_resume(open_case, worker):
    case = await open_case(invoice("PSE-1", starts_at=START))
    status = await case.update("pause", {"reason": "sales negotiating a renewal", "until": "2026-05-06"})
    assert (status.stage, status.paused_until, status.next_step.kind) == ("paused", date(2026, 5, 6), "resume")
    status = await case.advance_to(paris(2026, 5, 6, 12))
    # courtesy was pre-due and the invoice is now due; the 6 days it was late while paused (30 April to 6 May)
    # do not count, so reminder-1 (1 May) comes on 7 May
    assert [(s.step_id, s.status) for s in status.steps] == [("courtesy", "skipped")]
    assert (status.next_step.id, minute(status.next_step.at)) == ("reminder-1", paris(2026, 5, 7, 9))
    status = await case.update("pause", {"reason": "customer on holiday"})
    assert status.next_step.kind == "limitation_warning"  # nothing else until the pause is lifted
    status = await case.update("resume", {"by": "paul"})
    assert status.state == "open" and status.history[-1].by == "paul"


async def test_write_off_closes_the_case(open_case, worker):
    case = await open_case(invoice("WO-1", starts_at=START))
    status = await case.update("write_off", {"reason": "debtor in liquidation", "by": "marie"})
    assert (status.state, status.outcome, status.balance) == ("closed", "written_off", Decimal("1250.00"))
    await case.env.sleep(1)
    assert await execution_status(case.env.client, case.handle.id) == WorkflowExecutionStatus.COMPLETED


async def test_contact_update_is_used_for_the_next_message(open_case, worker):
    case = await open_case(invoice("CNT-1", starts_at=START))
    await case.update("contact_updated", {"email": "ap@acme.example", "phone": "+33 1 23 45 67 89"})
    await case.advance_to(paris(2026, 4, 27, 12))
    mail = message_from_bytes((worker.outbox_dir / "invoice-CNT-1_courtesy.eml").read_bytes(), policy=default)
    assert mail["To"] == "ACME SAS <ap@acme.example>"


async def test_long_overdue_import_starts_at_the_step_that_fits(open_case, worker):
    """49 days late at import: the formal notice (day 35) was missed, and legal steps are never skipped."""
    case = await open_case(invoice("OLD-1", due=date(2026, 3, 2), starts_at=START))
    status = await case.advance_to(paris(2026, 4, 21, 12))
    assert [(s.step_id, s.status) for s in status.steps] == [
        ("courtesy", "skipped"),
        ("reminder-1", "skipped"),
        ("reminder-2", "skipped"),
        ("call-1", "skipped"),
        ("final-reminder", "skipped"),
        ("formal-notice", "done"),
    ]
    assert minute(status.steps[-1].at) == paris(2026, 4, 20, 9)
    assert outbox_messages(worker) == []
    assert sorted(p.name for p in worker.letter_outbox_dir.iterdir()) == [
        "invoice-OLD-1_formal-notice.json",
        "invoice-OLD-1_formal-notice.pdf",
    ]
    assert (status.as_of.date(), status.days_late, status.stage) == (date(2026, 4, 21), 50, "formal_notice")
    assert status.waiting_for == "proof of delivery of the formal notice (registered_letter_delivered)"


async def test_small_balance_skips_conditional_steps(open_case, worker):
    case = await open_case(invoice("SMALL-1", amount="40.00", starts_at=START))
    status = await case.advance_to(paris(2026, 5, 16, 12))
    assert [(s.step_id, s.status) for s in status.steps] == [
        ("courtesy", "skipped"),
        ("reminder-1", "done"),
        ("reminder-2", "done"),
        ("call-1", "skipped"),
    ]
    assert status.steps[0].detail == "balance 40.00 below the step's minimum 50.00"


async def test_policy_ends_and_case_closes_after_waiting_for_payment(open_case, worker):
    """90.00 is too little for a registered letter (min 100.00): the legal steps are skipped, then the case closes."""
    case = await open_case(invoice("END-1", amount="90.00", starts_at=START))
    status = await case.advance_to(paris(2026, 6, 20, 12))
    assert [(s.step_id, s.status) for s in status.steps][-3:] == [
        ("final-reminder", "done"),
        ("formal-notice", "skipped"),
        ("injonction", "skipped"),
    ]
    assert (status.stage, status.next_step.kind, minute(status.next_step.at)) == (
        "final_reminder",
        "close",
        paris(2026, 7, 19, 9),
    )
    status = await case.advance_to(paris(2026, 7, 20))
    assert (status.state, status.outcome) == ("closed", "policy_completed")
    assert status.history[-1].detail == "policy completed; 90.00 EUR still unpaid"


async def test_operator_reapplies_another_policy(open_case, worker):
    case = await open_case(invoice("RPL-1", starts_at=START))
    status = await case.advance_to(paris(2026, 5, 5, 12))
    assert status.policy == "b2b-standard@v3"
    status = await case.update("reapply_policy", {"policy": "key-accounts", "by": "marie"})
    assert status.policy == "key-accounts@v2"
    # followup (+5, 5 May) is the latest missed step of the new policy; its cadence of 5 days from
    # reminder-1 (4 May) puts it on Saturday 9 May, so Monday 11 May when its window opens at 10:00.
    assert (status.next_step.id, minute(status.next_step.at)) == ("followup", paris(2026, 5, 11, 10))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await case.update("reapply_policy", {"policy": "no-such-policy"})
    assert "policy 'no-such-policy' does not exist" in str(err.value.cause)
    # the same as a signal (it goes through the one registration of every action): recorded as refused
    await case.handle.signal("reapply_policy", {"policy": "no-such-policy", "by": "an-erp"})
    for _ in range(100):
        refused = [h.detail for h in (await case.status()).history if h.event == "rejected"]
        if refused:
            break
        await asyncio.sleep(0.05)
    (detail,) = refused
    assert detail.startswith("reapply_policy rejected: policy not re-applied: policy 'no-such-policy' does not exist")
    assert (await case.status()).policy == "key-accounts@v2"


async def test_cancelling_the_workflow_closes_the_case_as_cancelled(open_case, worker):
    case = await open_case(invoice("CXL-1", starts_at=START))
    # the time-skipping server refuses a cancelled activity plus a new one in one task; the dev server takes it
    await case.advance_to(START + timedelta(minutes=30))  # time moves only once the case's start-up work is done
    assert await until_idle(case.env.client, case.handle.id)
    await case.handle.cancel()
    await case.env.sleep(1)
    status = await case.status()
    assert (status.state, status.outcome, status.history[-1].detail) == (
        "closed",
        "cancelled",
        "case cancelled in Temporal",
    )
    assert await execution_status(case.env.client, case.handle.id) == WorkflowExecutionStatus.CANCELED
    with Session(engine_for(worker.database_url)) as session:  # the ledger saw the end too
        row = session.get(CaseRow, case.handle.id)
        assert row is not None
        assert (row.outcome, row.stage, row.closed_at is not None) == ("cancelled", "cancelled", True)
        last = session.scalars(
            select(CaseEvent.detail).where(CaseEvent.case_id == case.handle.id).order_by(CaseEvent.seq.desc())
        ).first()
        assert last == "case cancelled in Temporal"


async def test_english_speaking_customer_gets_english_messages(open_case, worker):
    case = await open_case(invoice("EN-1", starts_at=START, customer={"language": "en", "name": "Initech Ltd"}))
    await case.advance_to(paris(2026, 5, 4, 12))
    mail = message_from_bytes((worker.outbox_dir / "invoice-EN-1_reminder-1.eml").read_bytes(), policy=default)
    assert mail["Subject"] == "Reminder: invoice EN-1 is 4 days overdue"
    assert "Dear Initech Ltd," in mail.get_content()
    assert "The amount outstanding is €1,250.00." in mail.get_content()


async def test_the_ledger_receives_history_and_payments(open_case, worker):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from relance.ledger.db import CaseEvent, CaseRow, PaymentRow, engine_for

    case = await open_case(invoice("LED-1", starts_at=START))
    await case.advance_to(paris(2026, 4, 28, 12))
    status = await case.update("payment_received", {"amount": "250", "paid_on": "2026-04-28", "reference": "L1"})
    await case.advance_to(paris(2026, 4, 28, 13))
    with Session(engine_for(worker.database_url)) as session:
        events = session.scalars(
            select(CaseEvent.event).where(CaseEvent.case_id == "invoice-LED-1").order_by(CaseEvent.seq)
        ).all()
        payment = session.execute(select(PaymentRow.amount, PaymentRow.stage, PaymentRow.channel)).one()
        row = session.get(CaseRow, "invoice-LED-1")
    assert events == [h.event for h in status.history]
    assert events[-1] == "payment_received"
    assert tuple(payment) == (Decimal("250.00"), "pre_due", "email")
    assert (row.balance, row.stage, row.policy) == (Decimal("1000.00"), "pre_due", "b2b-standard@v3")
