"""Where money is computed on a case: payments in, payments that come back (and a returned direct debit
presented again), and what follows a recovery. Each action's check and effect, declared in
relance/domain/rules.py; the claim's interest and indemnity are in relance/domain/penalties.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from relance.domain.actions import PaymentReceived, PaymentReversed
from relance.domain.case_legal import Outcome
from relance.domain.case_records import DebtorNotice, PaymentRecord
from relance.domain.direct_debit import DirectDebitRules, Representation, represent_on
from relance.domain.errors import AlreadyRecorded, AlreadyReversed, Rejected
from relance.domain.money import ZERO, amount_ok
from relance.domain.settlement import kept

if TYPE_CHECKING:  # the rules read and change a case's state; the state does not import its rules back
    from relance.domain.case import CaseState


def reversal(reference: str) -> str:
    """The payments line that cancels payment `reference` when it comes back."""
    return f"{reference} (reversed)"


def check_payment(state: CaseState, action: PaymentReceived, now: datetime) -> None:
    today = state.today(now)
    amount_ok(state, action.amount, "payment amount")
    if action.paid_on > today:
        raise Rejected(f"paid_on {action.paid_on} is in the future (today is {today})")
    if any(p.reference == action.reference for p in state.payments):
        raise AlreadyRecorded(f"payment reference {action.reference!r} is already recorded on this case")


def receive(state: CaseState, payment: PaymentReceived, now: datetime) -> None:
    channels = [s.channel for s in state.steps if s.status == "done" and s.channel]
    state.payments.append(
        PaymentRecord(
            amount=payment.amount,
            paid_on=payment.paid_on,
            reference=payment.reference,
            recorded_at=now,
            stage=state.stage(now),
            channel=channels[-1] if channels else None,
        )
    )
    state.total_paid += payment.amount
    state.balance -= payment.amount
    state.acknowledge(payment.paid_on)
    state.record(
        now,
        "payment_received",
        f"payment {payment.amount} {state.case.currency} ref {payment.reference} paid on {payment.paid_on}",
        by=payment.by,
        amount=str(payment.amount),
        reference=payment.reference,
    )
    if state.balance <= 0:
        state.overpaid = -state.balance
        state.balance = ZERO
        extra = f", overpaid by {state.overpaid} {state.case.currency}" if state.overpaid else ""
        state.close(now, Outcome.paid, f"paid in full{extra}", by=payment.by)
        return
    if state.offer is not None and kept(state.offer, state.total_paid):
        offer, conceded = state.offer, state.balance
        state.conceded += conceded
        state.balance = ZERO
        waived = ", ".join(w.value for w in offer.waive)
        state.record(
            now,
            "settlement_kept",
            f"settlement offer {offer.number} kept: {conceded} {state.case.currency} of principal given up "
            f"(waived: {waived})",
            conceded=str(conceded),
            currency=state.case.currency,
            waive=[w.value for w in offer.waive],
        )
        state.close(now, Outcome.settled, f"settled: {conceded} {state.case.currency} conceded", by=payment.by)
        return
    if state.promise is not None and state.total_paid - state.promise.paid_before >= state.promise.amount:
        state.record(now, "promise_kept", f"promise of {state.promise.amount} kept; balance {state.balance}")
        state.promise = None
        state.last_contact_at = now


def check_reversal(state: CaseState, action: PaymentReversed, now: datetime) -> None:
    today = state.today(now)
    amount_ok(state, action.amount, "reversed amount")
    if action.reversed_on > today:
        raise Rejected(f"reversed_on {action.reversed_on} is in the future (today is {today})")
    paid = [p for p in state.payments if p.reference == action.reference and p.amount > 0]
    if not paid:
        raise Rejected(f"no payment with reference {action.reference!r} on this case")
    if any(p.reference == reversal(action.reference) for p in state.payments):
        raise AlreadyReversed(f"payment {action.reference!r} is already reversed")
    if action.amount > paid[0].amount:
        raise Rejected(f"reversed amount {action.amount} is above the payment's {paid[0].amount}")


def reverse(state: CaseState, action: PaymentReversed, now: datetime) -> None:
    """The money is owed again (a negative line in the payments, so that totals stay true); chasing goes
    on at the policy's step for a returned payment, by default its final reminder. A returned direct
    debit is presented again first when the policy and its reason allow, else the debtor is asked for
    another means of payment (`relance.domain.direct_debit`)."""
    assert state.policy is not None
    rules = state.policy.direct_debit
    state.payments.append(
        PaymentRecord(
            amount=-action.amount,
            paid_on=action.reversed_on,
            reference=reversal(action.reference),
            recorded_at=now,
            stage=state.stage(now),
        )
    )
    state.total_paid -= action.amount
    state.balance += action.amount
    charged = rules is not None and rules.charge_return_fee and action.fee > 0
    if charged:
        state.balance += action.fee  # the contract lets the creditor charge it: part of what is owed
    else:
        state.bank_fees += action.fee
    fee = ""
    if action.fee:
        where = "charged to the debtor" if charged else "recorded apart"
        fee = f"; bank fee {action.fee} {state.case.currency} {where}"
    state.record(
        now,
        "payment_reversed",
        f"payment {action.reference} of {action.amount} {state.case.currency} came back ({action.reason}){fee}",
        by=action.by,
        amount=str(action.amount),
        reference=action.reference,
        fee=str(action.fee),
    )
    if action.mandate is not None:
        _after_returned_debit(state, action, rules, now)
    step = state.policy.on_payment_returned or next(
        (s.id for s in state.policy.steps if s.stage == "final_reminder"), None
    )
    state.escalate_to(step, now, "payment returned")


def _after_returned_debit(
    state: CaseState, action: PaymentReversed, rules: DirectDebitRules | None, now: datetime
) -> None:
    assert action.mandate is not None
    day, why = represent_on(rules, action.reason, action.reversed_on, state.today(now))
    if day is not None and state.represented:
        day, why = None, f"{action.reason}: a debit of this invoice was already presented again once"
    if day is not None:
        state.represented.append(action.reference)
        state.representation = Representation(
            reference=action.reference, amount=action.amount, reason=action.reason, mandate=action.mandate, on=day
        )
        state.record(now, "debit_to_represent", f"direct debit {action.reference}: {why}", on=str(day))
        return
    state.record(now, "debit_not_represented", f"direct debit {action.reference} not presented again: {why}")
    template = rules.other_means_template if rules is not None else "direct_debit_other_means"
    state.notices.append(DebtorNotice(key=f"other-means-{len(state.represented)}-{action.reversed_on}",
                                     template=template))  # fmt: skip


def debit_represented(state: CaseState, now: datetime, end_to_end_id: str, detail: str) -> None:
    """The new debit left for the bank: the chase waits `settle_days` for its credit."""
    assert state.representation is not None
    state.representation.sent_on = state.today(now)
    state.representation.end_to_end_id = end_to_end_id
    state.record(now, "debit_represented", detail, end_to_end_id=end_to_end_id)


def representation_over(state: CaseState, now: datetime, why: str) -> None:
    state.representation = None
    state.record(now, "debit_representation_over", why)


def after_recovery(state: CaseState, now: datetime) -> None:
    """Paid after the policy's `after_recovery.from_step`: thank the debtor, and a person follows up the
    relationship (one each per case)."""
    after = state.policy.after_recovery if state.policy is not None else None
    if after is None or state.policy is None:
        return
    threshold = state.policy.step_index(after.from_step)
    ids = {s.id: i for i, s in enumerate(state.policy.steps)}
    if not any(r.status == "done" and ids.get(r.step_id, -1) >= threshold for r in state.steps):
        return
    if after.thank_you:
        state.notices.append(DebtorNotice(key="recovered-thanks", template=after.thank_you_template, any_stage=True))
    if after.follow_up_assignee is not None:
        state.notices.append(
            DebtorNotice(
                key="recovered-follow-up",
                template=after.follow_up_template,
                any_stage=True,
                channel="phone",
                assignee=after.follow_up_assignee,
            )
        )
    state.record(
        now,
        "recovered",
        f"paid after {after.from_step}: a thank-you to the debtor, a relationship follow-up for "
        f"{after.follow_up_assignee or 'nobody'}",
    )
