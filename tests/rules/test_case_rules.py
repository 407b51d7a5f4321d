"""How ops actions change a case (relance/domain/case.py, relance/domain/case_legal.py): every refusal and the effect of
each action, as table tests without a server. The server tests keep the end-to-end scenarios."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

import pytest

from activities.customer_voice import natural_order
from relance.domain import holds
from relance.domain.access import Role
from relance.domain.account import (
    AccountHold,
    AccountState,
    CaseOpened,
    ExcludeCustomer,
    HoldCustomer,
    IncludeCustomer,
    MessageDue,
    ReleaseCustomer,
    UnallocatedPayment,
    check_account_action,
    contacted_today,
    held_for_next_day,
    note_sent,
)
from relance.domain.actions import Action
from relance.domain.activity_contract import StepResult, step_request
from relance.domain.case import CaseState, Hold, Outcome
from relance.domain.case_legal import AgencyFile, CourtProceeding, FormalNotice
from relance.domain.case_records import StepRecord
from relance.domain.errors import Rejected
from relance.domain.rules import OPS_ACTIONS, RULES, Undeclared
from tests.builders import POLICIES, START, case, paris

TODAY = START.date()  # Monday 20 April 2026, Paris
BY_NAME = {a.name: a for a in OPS_ACTIONS}


def action(name: str, **payload: Any) -> Action:
    return BY_NAME[name].model_validate(payload)


def disputed(state: CaseState) -> None:
    state.dispute = Hold(reason="colis abîmé", since=START)


def paid_once(state: CaseState) -> None:
    state.apply(action("payment_received", amount="100.00", paid_on="2026-04-20", reference="VIR-1"), START)


def in_plan(state: CaseState) -> None:
    state.apply(action("payment_plan_agreed", installments=[{"due_on": "2026-05-01", "amount": "1250.00"}]), START)


def noticed(delivered: bool) -> Callable[[CaseState], None]:
    def send(state: CaseState) -> None:
        state.formal_notice = FormalNotice(
            step_id="formal-notice",
            sent_on=date(2026, 4, 10),
            letter_id="L-1",
            document=None,
            deadline_days=8,
            delivered_on=date(2026, 4, 12) if delivered else None,
        )

    return send


def in_court(state: CaseState) -> None:
    state.court = CourtProceeding(
        route="injonction_de_payer", court="tribunal de commerce", dossier=None, opened_on=TODAY
    )


def closed(state: CaseState) -> None:
    state.close(START, Outcome.written_off, "written off")


def nothing(state: CaseState) -> None:
    return None


OFFER = {"amount": "1000.00", "pay_by": "2026-05-15", "waive": ["principal"], "reason": "geste commercial"}


def offer_open(state: CaseState) -> None:
    state.apply(action("settlement_offered", **OFFER), START)


def delivered(state: CaseState) -> None:
    state.apply(action("email_event", **EVENT), START)


EVENT = {"kind": "delivered", "step_id": "reminder-1", "at": "2026-04-20T05:02:00+00:00", "event_id": "E1"}
SMS_EVENT = {
    "kind": "delivered",
    "step_id": "reminder-1",
    "at": "2026-04-20T05:02:00+00:00",
    "event_id": "SM1:delivered",
}
REPLY = {"reply_id": "<r1@acme.example>", "sender": "compta@acme.example", "received_at": "2026-04-20T07:00:00+00:00"}


def replied(state: CaseState) -> None:
    state.apply(action("reply_received", **REPLY, subject="Re: F-1", text="Payé hier."), START)


REFUSALS = [
    (
        "an SMS status recorded already (Twilio posts again)",
        lambda s: s.apply(action("sms_event", **SMS_EVENT), START),
        action("sms_event", **SMS_EVENT),
        "reminder-1: SMS event 'SM1:delivered' already recorded",
    ),
    (
        "a reply recorded already (SendGrid posts again)",
        replied,
        action("reply_received", **REPLY),
        "reply '<r1@acme.example>' is already recorded on this case",
    ),
    (
        "a delivery recorded already (the provider posts again)",
        delivered,
        action("email_event", **{**EVENT, "event_id": "E2"}),
        "reminder-1: delivered already recorded (2026-04-20T05:02:00+00:00)",
    ),
    (
        "an event from the future",
        nothing,
        action("email_event", **{**EVENT, "at": "2026-04-21T07:02:00+00:00"}),
        "at 2026-04-21T07:02:00+00:00 is in the future",
    ),
    (
        "a reversal of no payment",
        nothing,
        action("payment_reversed", reference="VIR-9", amount="10.00", reason="AM04", reversed_on="2026-04-20"),
        "no payment with reference 'VIR-9' on this case",
    ),
    (
        "a reversal above the payment",
        paid_once,
        action("payment_reversed", reference="VIR-1", amount="999.00", reason="AM04", reversed_on="2026-04-20"),
        "reversed amount 999.00 is above the payment's 100.00",
    ),
    (
        "a reversal dated tomorrow",
        paid_once,
        action("payment_reversed", reference="VIR-1", amount="10.00", reason="AM04", reversed_on="2026-04-21"),
        "reversed_on 2026-04-21 is in the future (today is 2026-04-20)",
    ),
    (
        "a settlement offer during a dispute",
        disputed,
        action("settlement_offered", **OFFER),
        "the case is in dispute: resolve the dispute before offering a settlement",
    ),
    (
        "a settlement offer during a plan",
        in_plan,
        action("settlement_offered", **OFFER),
        "the case follows a payment plan; a settlement offer cannot replace it",
    ),
    (
        "a second settlement offer",
        offer_open,
        action("settlement_offered", **OFFER),
        "settlement offer 1: 1000.00 EUR by 2026-05-15, waiving principal is still open",
    ),
    (
        "a settlement offer with cents the currency lacks",
        nothing,
        action("settlement_offered", **{**OFFER, "amount": "1000.001"}),
        "offer amount 1000.001 has more than 2 decimals for EUR",
    ),
    ("a closed case takes nothing", closed, action("dispute_opened", reason="x"), "case PL-1 is closed (written_off)"),
    (
        "more decimals than the currency",
        nothing,
        action("payment_received", amount="10.001", paid_on="2026-04-20", reference="R"),
        "payment amount 10.001 has more than 2 decimals for EUR",
    ),
    (
        "a payment in the future",
        nothing,
        action("payment_received", amount="10.00", paid_on="2026-04-21", reference="R"),
        "paid_on 2026-04-21 is in the future (today is 2026-04-20)",
    ),
    (
        "a payment reference seen before",
        paid_once,
        action("payment_received", amount="10.00", paid_on="2026-04-20", reference="VIR-1"),
        "payment reference 'VIR-1' is already recorded on this case",
    ),
    ("a second dispute", disputed, action("dispute_opened", reason="x"), "a dispute is already open since 2026-04-20"),
    (
        "resolving no dispute",
        nothing,
        action("dispute_resolved", outcome="rejected"),
        "no dispute is open on this case",
    ),
    (
        "a partial credit of the whole balance",
        disputed,
        action("dispute_resolved", outcome="partially_accepted", credited_amount="1250.00"),
        "credited_amount 1250.00 must be below the balance 1250.00 for a partial acceptance "
        "(use outcome accepted to credit it all)",
    ),
    (
        "a promise during a dispute",
        disputed,
        action("promise_to_pay", promised_on="2026-05-01"),
        "the case is in dispute: resolve the dispute before recording a promise",
    ),
    (
        "a promise during a plan",
        in_plan,
        action("promise_to_pay", promised_on="2026-05-01"),
        "the case follows a payment plan; a promise cannot replace it",
    ),
    (
        "a promise in the past",
        nothing,
        action("promise_to_pay", promised_on="2026-04-19"),
        "promised_on 2026-04-19 is in the past (today is 2026-04-20)",
    ),
    (
        "a promise above the balance",
        nothing,
        action("promise_to_pay", promised_on="2026-05-01", amount="2000.00"),
        "promised amount 2000.00 is above the balance 1250.00",
    ),
    (
        "a plan during a dispute",
        disputed,
        action("payment_plan_agreed", installments=[{"due_on": "2026-05-01", "amount": "1250.00"}]),
        "the case is in dispute: resolve the dispute before agreeing a plan",
    ),
    (
        "more installments than the policy allows",
        nothing,
        action(
            "payment_plan_agreed",
            installments=[{"due_on": f"2026-{m:02d}-01", "amount": "1.00"} for m in range(5, 13)]
            + [{"due_on": f"2027-{m:02d}-01", "amount": "1.00"} for m in range(1, 6)],
        ),
        "13 installments; the policy allows at most 12",
    ),
    (
        "a first installment in the past",
        nothing,
        action("payment_plan_agreed", installments=[{"due_on": "2026-04-01", "amount": "1250.00"}]),
        "installment 1 is due 2026-04-01, in the past (today is 2026-04-20)",
    ),
    (
        "installments out of order",
        nothing,
        action(
            "payment_plan_agreed",
            installments=[{"due_on": "2026-06-01", "amount": "625.00"}, {"due_on": "2026-05-01", "amount": "625.00"}],
        ),
        "installment 2 (2026-05-01) must fall after installment 1",
    ),
    (
        "installments that do not add up",
        nothing,
        action("payment_plan_agreed", installments=[{"due_on": "2026-05-01", "amount": "1000.00"}]),
        "installments add up to 1000.00, the balance is 1250.00",
    ),
    (
        "a pause ending today",
        nothing,
        action("pause", reason="x", until="2026-04-20"),
        "until 2026-04-20 must be after today (2026-04-20)",
    ),
    ("resuming a case not paused", nothing, action("resume"), "the case is not paused"),
    ("resuming a dispute", disputed, action("resume"), "the case is not paused (a dispute ends with dispute_resolved)"),
    (
        "a delivery with no notice sent",
        nothing,
        action("registered_letter_delivered", tracking_number="1A", delivered_on="2026-04-20"),
        "no formal notice has been sent on this case",
    ),
    (
        "a delivery recorded twice",
        noticed(True),
        action("registered_letter_delivered", tracking_number="1A", delivered_on="2026-04-20"),
        "delivery already recorded on 2026-04-12 (None)",
    ),
    (
        "a delivery before the sending",
        noticed(False),
        action("registered_letter_delivered", tracking_number="1A", delivered_on="2026-04-09"),
        "delivered_on 2026-04-09 must fall between the sending (2026-04-10) and today",
    ),
    (
        "a letter returned in the future",
        nothing,
        action("mail_returned", reason="NPAI", returned_on="2026-04-25"),
        "returned_on 2026-04-25 is in the future (today is 2026-04-20)",
    ),
    (
        "a letter returned when none was sent",
        nothing,
        action("mail_returned", reason="NPAI", returned_on="2026-04-15"),
        "no letter has been sent on this case",
    ),
    (
        "a letter returned before it was sent",
        noticed(False),
        action("mail_returned", reason="NPAI", returned_on="2026-04-09"),
        "returned_on 2026-04-09 is before the first letter left (2026-04-10)",
    ),
    (
        "an order with no dossier",
        nothing,
        action("court_order_issued", issued_on="2026-04-20", reference="IP-1"),
        "no court dossier is waiting for an order on this case",
    ),
    (
        "service with no order",
        in_court,
        action("order_served", served_on="2026-04-20"),
        "no court order waiting to be served on this case",
    ),
    (
        "an opposition with no service",
        in_court,
        action("opposition_filed", filed_on="2026-04-20"),
        "an opposition needs a served order",
    ),
    (
        "a judgment payment out of court",
        nothing,
        action("judgment_paid", amount="10.00", paid_on="2026-04-20", reference="J"),
        "the case is not in court: record the payment with payment_received",
    ),
    (
        "an agency report with no agency",
        nothing,
        action("agency_update", status="x", reported_on="2026-04-20"),
        "the case has not been handed to an agency",
    ),
    (
        "a platform's status recorded twice",
        lambda s: s.apply(
            action("einvoice_status", status_id="M-1:1", code="202", at="2026-04-20T10:00:00+02:00"), START
        ),
        action("einvoice_status", status_id="M-1:1", code="203", at="2026-04-20T11:00:00+02:00"),
        "status M-1:1 is already recorded",
    ),
    (
        "a credit note above the balance",
        nothing,
        action("credit_note_applied", credit_note="AV-1", amount="1300.00"),
        "credit note AV-1 of 1300.00 is more than the balance 1250.00: what was paid beyond it is a refund, "
        "for a person",
    ),
]


@pytest.mark.parametrize(("label", "situation", "sent", "reason"), REFUSALS, ids=[row[0] for row in REFUSALS])
def test_an_action_that_does_not_fit_the_case_is_refused_and_changes_nothing(label, situation, sent, reason):
    state = case()
    situation(state)
    before = state.model_dump()
    with pytest.raises(Rejected) as refused:
        state.check(sent, START)
    assert str(refused.value) == reason
    assert state.model_dump() == before


def test_every_ops_action_has_a_refusal_row():
    assert {row[2].name for row in REFUSALS} == {a.name for a in OPS_ACTIONS} - {
        "write_off",
        "contact_updated",
        "email_bounced",
        "reapply_policy",  # refused when the policy cannot be resolved (tests/workflows/test_case_lifecycle.py)
    }


def applied(situation: Callable[[CaseState], None], *sent: Action) -> CaseState:
    state = case()
    situation(state)
    for one in sent:
        state.check(one, START)
        state.apply(one, START)
    return state


def test_payments_lower_the_balance_and_the_last_one_closes_the_case():
    state = applied(nothing, action("payment_received", amount="250.00", paid_on="2026-04-20", reference="A"))
    assert (state.balance, state.total_paid, state.closed, state.acknowledged_on) == (
        Decimal("1000.00"),
        Decimal("250.00"),
        False,
        TODAY,
    )
    state.apply(action("payment_received", amount="1100.00", paid_on="2026-04-20", reference="B"), START)
    assert (state.balance, state.overpaid, state.outcome) == (Decimal("0"), Decimal("100.00"), Outcome.paid)


def test_a_dispute_pauses_the_case_and_ends_its_promise():
    state = applied(nothing, action("promise_to_pay", promised_on="2026-05-01"), action("dispute_opened", reason="x"))
    assert (state.stage(START), state.promise, state.on_hold) == ("disputed", None, True)
    assert [h.event for h in state.history][-2:] == ["dispute_opened", "arrangement_ended"]


DISPUTE_OUTCOMES = [
    ("rejected", None, Decimal("1250.00"), Decimal("0"), None),
    ("partially_accepted", "250.00", Decimal("1000.00"), Decimal("250.00"), None),
    ("accepted", None, Decimal("0"), Decimal("1250.00"), Outcome.cancelled),
]


@pytest.mark.parametrize(("outcome", "credit", "balance", "credited", "closed_as"), DISPUTE_OUTCOMES)
def test_how_a_dispute_ends(outcome, credit, balance, credited, closed_as):
    payload = {"outcome": outcome} | ({"credited_amount": credit} if credit else {})
    state = applied(disputed, action("dispute_resolved", **payload))
    assert (state.balance, state.credited, state.outcome, state.dispute) == (balance, credited, closed_as, None)


def test_a_promise_a_plan_a_pause_and_their_ends():
    promised = applied(nothing, action("promise_to_pay", promised_on="2026-05-01", amount="500.00"))
    assert (promised.promise is not None, promised.acknowledged_on, promised.stage(START)) == (
        True,
        TODAY,
        "promise_to_pay",
    )
    planned = applied(nothing, action("promise_to_pay", promised_on="2026-05-01"))
    in_plan(planned)
    assert (planned.promise, planned.plan is not None, planned.stage(START)) == (None, True, "payment_plan")
    paused = applied(nothing, action("pause", reason="négociation", until="2026-05-01"))
    assert (paused.stage(START), paused.manual_pause.until if paused.manual_pause else None) == (
        "paused",
        date(2026, 5, 1),
    )
    paused.apply(action("resume"), START)
    assert (paused.manual_pause, paused.stage(START)) == (None, "not_due")


def test_a_write_off_closes_and_a_new_address_sends_a_returned_notice_again():
    written = applied(nothing, action("write_off", reason="liquidation judiciaire"))
    assert (written.outcome, written.history[-1].detail) == (Outcome.written_off, "written off: liquidation judiciaire")
    state = case()
    noticed(False)(state)
    state.apply(action("mail_returned", reason="NPAI", returned_on="2026-04-15"), START)
    assert (state.formal_notice is not None and state.formal_notice.returned, state.flags.address_invalid) == (
        "NPAI",
        "NPAI",
    )
    new_address = {"line1": "2 rue Neuve", "postal_code": "69001", "city": "Lyon", "country": "FR"}
    state.apply(action("contact_updated", address=new_address), START)
    assert state.policy is not None
    assert (state.formal_notice, state.flags.address_invalid, state.cursor) == (
        None,
        None,
        state.policy.step_index("formal-notice"),
    )
    assert state.case.customer.address.city == "Lyon"


def test_an_agency_report_is_a_payment_less_its_commission():
    state = case()
    state.agency = AgencyFile(
        agency="Recouvre", mandate_reference="M-1", commission_rate=Decimal("10"), handed_on=TODAY, delivery_id=None
    )
    state.apply(
        action("agency_update", status="plan agreed", collected_amount="200.00", reported_on="2026-04-20"), START
    )
    assert (state.balance, state.agency.collected, state.agency.commission) == (
        Decimal("1050.00"),
        Decimal("200.00"),
        Decimal("20.00"),
    )


# ---- the customer's account (relance/domain/account.py) ------------------------------------------------------------

OPENED = CaseOpened(case_id="invoice-A-1", invoice_id="A-1", due_date=date(2026, 4, 30), currency="EUR")


def account(
    hold: Literal["hold", "exclude"] | None = None, cases: bool = True, payments: tuple[str, ...] = ()
) -> AccountState:
    state = AccountState(customer_id="C-1", payments=list(payments))
    if cases:
        state.cases[OPENED.case_id] = OPENED
    if hold is not None:
        state.hold = AccountHold(kind=hold, reason="grand compte", since=START)
    return state


ACCOUNT_REFUSALS = [
    (
        "hold an excluded customer",
        account("exclude"),
        HoldCustomer(reason="x"),
        "the customer is excluded from chasing (grand compte); include it first",
    ),
    (
        "a hold ending today",
        account(),
        HoldCustomer(reason="x", until=TODAY),
        "until 2026-04-20 must be after today (2026-04-20)",
    ),
    (
        "exclude twice",
        account("exclude"),
        ExcludeCustomer(reason="x"),
        "the customer is already excluded (grand compte)",
    ),
    ("release a customer not on hold", account(), ReleaseCustomer(), "the customer is not on hold"),
    ("release an exclusion", account("exclude"), ReleaseCustomer(), "the customer is not on hold"),
    ("include a customer not excluded", account("hold"), IncludeCustomer(), "the customer is not excluded"),
    (
        "a payment reference seen before",
        account(payments=("VIR-9",)),
        UnallocatedPayment(amount=Decimal("5"), paid_on=TODAY, reference="VIR-9"),
        "payment reference 'VIR-9' is already recorded for this customer",
    ),
    (
        "a payment in the future",
        account(),
        UnallocatedPayment(amount=Decimal("5"), paid_on=date(2026, 4, 21), reference="V"),
        "paid_on 2026-04-21 is in the future (today is 2026-04-20)",
    ),
]


@pytest.mark.parametrize(
    ("label", "state", "sent", "reason"), ACCOUNT_REFUSALS, ids=[row[0] for row in ACCOUNT_REFUSALS]
)
def test_a_customer_action_that_does_not_fit_the_account_is_refused(label, state, sent, reason):
    with pytest.raises(Rejected) as refused:
        check_account_action(state, sent, TODAY)
    assert str(refused.value) == reason


ACCOUNT_ACCEPTED = [
    ("hold", account(), HoldCustomer(reason="x", until=date(2026, 5, 1))),
    ("hold again, a new reason", account("hold"), HoldCustomer(reason="y")),
    ("exclude a held customer", account("hold"), ExcludeCustomer(reason="x")),
    ("release", account("hold"), ReleaseCustomer()),
    ("include", account("exclude"), IncludeCustomer()),
    ("a payment naming no invoice", account(), UnallocatedPayment(amount=Decimal("5"), paid_on=TODAY, reference="V")),
]


@pytest.mark.parametrize(("label", "state", "sent"), ACCOUNT_ACCEPTED, ids=[row[0] for row in ACCOUNT_ACCEPTED])
def test_a_customer_action_that_fits_is_accepted(label, state, sent):
    assert check_account_action(state, sent, TODAY) is None


def test_a_reapplied_policy_goes_on_after_the_last_of_its_steps_already_done():
    state = case()
    done = StepRecord(step_id="reminder-2", at=START, status="done", detail="sent")
    state.steps.append(done)
    state.reapply(POLICIES["key-accounts"].for_case(date(2026, 4, 30)), START, "ops")
    assert state.policy is not None and state.policy.name == "key-accounts"
    assert (state.cursor, state.escalate, state.history[-1].detail) == (
        state.policy.step_index("reminder-2") + 1,
        False,
        "policy b2b-standard@v3 replaced by key-accounts@v2",
    )


def test_a_customer_hold_and_its_release():
    state = case()
    holds.hold_for_customer(state, "exclude", "grand compte", None, START)
    assert (state.on_hold, state.stage(START), state.history[-1].event) == (True, "customer_hold", "customer_exclude")
    holds.release_for_customer(state, "ops", START)
    assert (state.on_hold, state.history[-1].by) == (False, "ops")


def test_the_cause_of_lateness_is_kept_with_the_action_that_taught_it():
    state = applied(nothing, action("promise_to_pay", promised_on="2026-05-01", cause="cash_flow"))
    assert state.lateness_cause == "cash_flow"
    assert state.history[-1].event == "promise_to_pay" and state.history[-1].data["cause"] == "cash_flow"
    state = applied(nothing, action("dispute_opened", reason="colis abîmé"))
    assert (state.lateness_cause, state.history[-1].data["cause"]) == ("dispute", "dispute")  # a dispute's default
    state = applied(nothing, action("write_off", reason="liquidation", cause="insolvency"))
    closing = [h for h in state.history if h.event == "case_closed"]
    assert (state.lateness_cause, closing[0].data["cause"]) == ("insolvency", "insolvency")
    with pytest.raises(ValueError, match="cause"):
        action("promise_to_pay", promised_on="2026-05-01", cause="bad luck")


def test_a_returned_payment_is_owed_again_and_chasing_resumes_at_the_final_reminder():
    state = applied(
        paid_once,
        action(
            "payment_reversed",
            reference="VIR-1",
            amount="100.00",
            reason="AM04 fonds insuffisants",
            reversed_on="2026-04-20",
            fee="7.50",
        ),
    )
    assert (state.balance, state.total_paid, state.bank_fees) == (Decimal("1250.00"), Decimal("0.00"), Decimal("7.50"))
    assert [(p.reference, p.amount) for p in state.payments] == [
        ("VIR-1", Decimal("100.00")),
        ("VIR-1 (reversed)", Decimal("-100.00")),
    ]
    (reversed_,) = [h for h in state.history if h.event == "payment_reversed"]
    assert reversed_.detail == (
        "payment VIR-1 of 100.00 EUR came back (AM04 fonds insuffisants); bank fee 7.50 EUR recorded apart"
    )
    assert state.policy is not None and state.policy.steps[state.cursor].id == "final-reminder" and state.escalate
    with pytest.raises(Rejected, match="payment 'VIR-1' is already reversed"):
        state.check(
            action("payment_reversed", reference="VIR-1", amount="10.00", reason="x", reversed_on="2026-04-20"), START
        )


@pytest.mark.parametrize(("once", "recovered"), [(True, 1), (False, 2)])
def test_a_judgment_paid_in_full_runs_the_after_recovery_once(once, recovered):
    """Issue 34, bug 2: the legal rules apply the judgment's payment through `apply`, re-entrantly, and the
    after-recovery ran twice (two entries, two notices queued). `once=False` is the old behaviour, which cases
    started before the recovery-once-v1 patch replay."""
    from relance.domain.policy import AfterRecovery

    state = case()
    assert state.policy is not None
    state.policy.after_recovery = AfterRecovery(from_step="reminder-1", follow_up_assignee="sales")
    state.steps.append(StepRecord(step_id="reminder-1", at=START, status="done", detail="sent"))
    in_court(state)
    paid = action("judgment_paid", amount="1250.00", paid_on=TODAY.isoformat(), reference="CDJ-1")
    state.apply(paid, START, once=once)
    assert state.outcome == Outcome.paid
    assert [h.event for h in state.history].count("recovered") == recovered
    assert [n.key for n in state.notices] == ["recovered-thanks", "recovered-follow-up"] * recovered


@pytest.mark.parametrize(
    ("events", "history", "flag"),
    [
        ([EVENT], [("email_delivered", "reminder-1 delivered on 20/04/2026 at 07:02")], None),
        ([EVENT, {**EVENT, "kind": "open", "at": "2026-04-20T05:45:00+00:00"}],
         [("email_delivered", "reminder-1 delivered on 20/04/2026 at 07:02"),
          ("email_opened", "reminder-1 opened on 20/04/2026 at 07:45")], None),
        ([{**EVENT, "kind": "bounce", "reason": "550 5.1.1 user unknown"}],
         [("email_bounced", "compta@acme.example: reminder-1 bounced: 550 5.1.1 user unknown")],
         "reminder-1 bounced: 550 5.1.1 user unknown"),
        ([{**EVENT, "kind": "spamreport"}], [("email_bounced", "compta@acme.example: reminder-1 reported as spam")],
         "reminder-1 reported as spam"),
    ],
)  # fmt: skip
def test_what_the_provider_saw_is_kept_once_and_a_bounce_flags_the_address(events, history, flag):
    state = applied(nothing, *(action("email_event", **e) for e in events))
    assert [(h.event, h.detail) for h in state.history if h.event.startswith("email_")] == history
    assert state.flags.email_invalid == flag


def due(channel: Literal["email", "phone"], day: int, *, waits: bool = True) -> MessageDue:
    request = step_request(case(), f"invoice-D{day}", "courtesy", "courtesy", paris(2026, 4, day, 10))
    return MessageDue(case_id=request.case_id, channel=channel, request=request, waits_a_day=waits)


@pytest.mark.parametrize(
    ("label", "emailed_on", "item", "held"),
    [
        ("nothing sent yet", None, due("email", 27), False),
        ("an e-mail already left that day", date(2026, 4, 27), due("email", 27), True),
        ("the e-mail left the day before", date(2026, 4, 26), due("email", 27), False),
        ("a call joins the day's call task instead", date(2026, 4, 27), due("phone", 27), False),
        ("a case of an older generation cannot wait: sent", date(2026, 4, 27), due("email", 27, waits=False), False),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_message_reaching_the_account_after_the_days_e_mail_waits_for_the_next_contact_day(
    label, emailed_on, item, held
):
    state = AccountState(customer_id="C-ACME", emailed_on=emailed_on)
    send, wait = held_for_next_day(state, [item])
    assert (send, wait) == (([], [item]) if held else ([item], []))


def test_the_account_remembers_the_last_day_an_e_mail_may_have_left():
    state = AccountState(customer_id="C-ACME")
    items = [due("email", 27), due("phone", 28), due("email", 26)]
    results = [StepResult(status=s, detail="") for s in ("in_doubt", "sent", "failed")]
    note_sent(state, items, results)
    assert state.emailed_on == date(2026, 4, 27)  # the call and the failed e-mail do not count
    answer = contacted_today(state.customer_id, state.emailed_on)
    assert (answer.status, answer.error_type, answer.detail) == (
        "deferred",
        "ContactedToday",
        "customer C-ACME already had an e-mail on 2026-04-27",
    )


def test_a_state_carried_before_the_wait_was_renamed_still_reads_its_wait():
    carried = case().model_dump(mode="json")
    del carried["day_wait"]  # as a run before the rename carried it
    carried["rate_wait"] = {"step_id": "formal-notice", "reason": "no rate", "since": START, "tried_at": START}
    state = CaseState.model_validate(carried)
    assert state.day_wait is not None and (state.day_wait.step_id, state.day_wait.kind) == ("formal-notice", "rate")
    assert "rate_wait" not in state.model_dump()


def test_an_action_the_rule_table_does_not_declare_is_refused_fail_closed():
    """A payload class alone is not an action: without its row in relance/domain/rules.py no case checks or
    applies it, and nothing registers it (the workflows' handlers, the API's routes and the fuzz list all
    come from the table)."""

    class Stray(Action):
        name: ClassVar[str] = "stray"
        least_role: ClassVar[Role] = Role.collector

    state = case()
    before = state.model_dump()
    for attempt in (state.check, state.apply):
        with pytest.raises(Undeclared, match="action 'stray' is not declared: refused"):
            attempt(Stray(), START)
    assert state.model_dump() == before
    assert Stray not in OPS_ACTIONS and set(RULES) == set(OPS_ACTIONS)
    assert all(rule.action is action for action, rule in RULES.items())


@pytest.mark.parametrize(
    ("label", "before", "sent", "paused_until", "events"),
    [
        ("a person's reply pauses the policy's days", nothing, {}, date(2026, 4, 25), ["reply_received", "paused"]),
        ("an auto-responder pauses nothing", nothing, {"automatic": True}, None, ["reply_automatic"]),
        (
            "a longer pause already running stands",
            lambda s: s.apply(action("pause", reason="attente", until="2026-05-30"), START),
            {},
            date(2026, 5, 30),
            ["paused", "reply_received"],
        ),
        (
            "a shorter one is prolonged",
            lambda s: s.apply(action("pause", reason="attente", until="2026-04-21"), START),
            {},
            date(2026, 4, 25),
            ["paused", "reply_received", "paused"],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_what_a_reply_does_to_a_case(label, before, sent, paused_until, events):
    state = case()
    before(state)
    state.apply(action("reply_received", **REPLY, subject="Re: F-1", text="Payé hier.", **sent), START)
    held = state.manual_pause
    assert (held.until if held else None) == paused_until
    assert [h.event for h in state.history if h.event.startswith(("reply_", "paused"))] == events
    assert state.replies == ["<r1@acme.example>"]


def test_a_reply_from_another_address_is_recorded_as_such_and_pauses_all_the_same():
    state = case()
    other = {**REPLY, "sender": "assistante@autre.example"}
    state.apply(action("reply_received", **other, subject="Re: F-1", text="Je transmets."), START)
    (entry,) = [h for h in state.history if h.event == "reply_received"]
    assert entry.detail == "reply from assistante@autre.example (not compta@acme.example): Re: F-1"
    assert state.manual_pause is not None and state.manual_pause.kind == "reply"


@pytest.mark.parametrize(
    ("numbers", "ordered"),
    [
        (["G-10", "G-2", "G-1"], ["G-1", "G-2", "G-10"]),
        (["FAC-2026-0012", "FAC-2026-0003", "FAC-2025-0100"], ["FAC-2025-0100", "FAC-2026-0003", "FAC-2026-0012"]),
        (["10", "9", "A1", "A"], ["9", "10", "A", "A1"]),
    ],
)
def test_a_grouped_message_lists_invoice_numbers_as_a_reader_counts(numbers, ordered):
    assert sorted(numbers, key=natural_order) == ordered
