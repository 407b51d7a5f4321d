"""Promises, payment plans and settlement offers: what a debtor agreed to, checked when its date passes.
Each action's check and effect, declared in relance/domain/rules.py; their deadlines, read by planning."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from relance.domain.actions import Installment, PaymentPlanAgreed, PromiseToPay, SettlementOffered
from relance.domain.calendar import start_of_day
from relance.domain.case_records import DebtorNotice
from relance.domain.errors import Rejected
from relance.domain.money import ZERO, amount_ok
from relance.domain.policy import SETTLEMENT_OFFER_TEMPLATE
from relance.domain.settlement import OfferState, describe, offer_refusal

if TYPE_CHECKING:  # the rules read and change a case's state; the state does not import its rules back
    from relance.domain.case import CaseState


class PromiseState(BaseModel):
    promised_on: date
    amount: Decimal
    paid_before: Decimal
    made_at: datetime


class PlanState(BaseModel):
    number: int
    installments: list[Installment]
    paid_before: Decimal
    checked: int = 0
    reminded: list[int] = Field(default_factory=list)

    def due_through(self, k: int) -> Decimal:
        return sum((i.amount for i in self.installments[: k + 1]), ZERO)

    def schedule(self, total_paid: Decimal, today: date) -> list[tuple[Installment, str]]:
        """Each installment and its state, as the debtor's page shows it: `paid` once the payments since the plan
        cover it and those before it, else `late` past its day, else `due`."""
        since = total_paid - self.paid_before
        return [
            (i, "paid" if since >= self.due_through(k) else "late" if i.due_on < today else "due")
            for k, i in enumerate(self.installments)
        ]


def check_promise(state: CaseState, action: PromiseToPay, now: datetime) -> None:
    today = state.today(now)
    if state.dispute is not None:
        raise Rejected("the case is in dispute: resolve the dispute before recording a promise")
    if state.plan is not None:
        raise Rejected("the case follows a payment plan; a promise cannot replace it")
    if action.promised_on < today:
        raise Rejected(f"promised_on {action.promised_on} is in the past (today is {today})")
    if action.amount is not None:
        amount_ok(state, action.amount, "promised amount")
        if action.amount > state.balance:
            raise Rejected(f"promised amount {action.amount} is above the balance {state.balance}")


def promise(state: CaseState, action: PromiseToPay, now: datetime) -> None:
    by = action.by
    amount = action.amount if action.amount is not None else state.balance
    state.promise = PromiseState(
        promised_on=action.promised_on, amount=amount, paid_before=state.total_paid, made_at=now
    )
    state.acknowledge(state.today(now))
    state.last_contact_at = now
    state.record(
        now,
        "promise_to_pay",
        f"promise to pay {amount} {state.case.currency} by {action.promised_on}",
        by=by,
        promised_on=action.promised_on.isoformat(),
        amount=str(amount),
    )


def check_plan(state: CaseState, action: PaymentPlanAgreed, now: datetime) -> None:
    today = state.today(now)
    _check_installments(state, action.installments, today)


def _check_installments(state: CaseState, installments: list[Installment], today: date) -> None:
    assert state.policy is not None
    if state.dispute is not None:
        raise Rejected("the case is in dispute: resolve the dispute before agreeing a plan")
    limit = state.policy.payment_plan.max_installments
    if len(installments) > limit:
        raise Rejected(f"{len(installments)} installments; the policy allows at most {limit}")
    for n, item in enumerate(installments, start=1):
        amount_ok(state, item.amount, f"installment {n} amount")
        if n == 1 and item.due_on < today:
            raise Rejected(f"installment 1 is due {item.due_on}, in the past (today is {today})")
        if n > 1 and item.due_on <= installments[n - 2].due_on:
            raise Rejected(f"installment {n} ({item.due_on}) must fall after installment {n - 1}")
    total = sum((i.amount for i in installments), ZERO)
    if total != state.balance:
        raise Rejected(f"installments add up to {total}, the balance is {state.balance}")


def agree_plan(state: CaseState, action: PaymentPlanAgreed, now: datetime) -> None:
    by = action.by
    state.plans_made += 1
    state.promise = None
    state.plan = PlanState(number=state.plans_made, installments=action.installments, paid_before=state.total_paid)
    state.acknowledge(state.today(now))
    state.last_contact_at = now
    lines = ", ".join(f"{i.amount} on {i.due_on}" for i in action.installments)
    state.record(now, "payment_plan_agreed", f"payment plan of {len(action.installments)}: {lines}", by=by)


def check_offer(state: CaseState, action: SettlementOffered, now: datetime) -> None:
    today = state.today(now)
    if state.dispute is not None:
        raise Rejected("the case is in dispute: resolve the dispute before offering a settlement")
    if state.plan is not None:
        raise Rejected("the case follows a payment plan; a settlement offer cannot replace it")
    if state.offer is not None:
        raise Rejected(f"{describe(state.offer, state.case.currency)} is still open")
    amount_ok(state, action.amount, "offer amount")
    refusal = offer_refusal(action.amount, action.pay_by, action.waive, state.balance, today)
    if refusal is not None:
        raise Rejected(refusal)


def offer(state: CaseState, action: SettlementOffered, now: datetime) -> None:
    state.offers_made += 1
    state.promise = None
    state.offer = OfferState(
        number=state.offers_made,
        amount=action.amount,
        pay_by=action.pay_by,
        waive=action.waive,
        reason=action.reason,
        made_at=now,
        paid_before=state.total_paid,
    )
    state.last_contact_at = now
    state.record(
        now,
        "settlement_offered",
        f"{describe(state.offer, state.case.currency)}: {action.reason}",
        by=action.by,
        amount=str(action.amount),
        pay_by=action.pay_by.isoformat(),
        waive=[w.value for w in action.waive],
    )
    key = f"settlement-{state.offers_made}-offer"
    state.notices.append(DebtorNotice(key=key, template=SETTLEMENT_OFFER_TEMPLATE, offer=state.offer))


def promise_due(state: CaseState, now: datetime) -> None:
    assert state.policy is not None and state.promise is not None
    promise, state.promise = state.promise, None
    paid = state.total_paid - promise.paid_before
    if paid >= promise.amount:
        state.record(now, "promise_kept", f"promise of {promise.amount} kept")
        state.last_contact_at = now
        return
    state.record(now, "promise_broken", f"promise of {promise.amount} by {promise.promised_on} broken; paid {paid}")
    state.escalate_to(state.policy.promise.on_broken, now, "promise broken")


def installment_due(state: CaseState, now: datetime) -> None:
    assert state.policy is not None and state.plan is not None
    plan = state.plan
    k = plan.checked
    due = plan.due_through(k)
    paid = state.total_paid - plan.paid_before
    item = plan.installments[k]
    if paid >= due:
        plan.checked += 1
        state.record(now, "installment_kept", f"installment {k + 1} of {item.amount} due {item.due_on} paid")
        if plan.checked == len(plan.installments):
            state.plan = None
            state.last_contact_at = now
            state.record(now, "payment_plan_completed", f"plan completed; balance {state.balance}")
        return
    state.plan = None
    state.record(
        now,
        "installment_missed",
        f"installment {k + 1} of {item.amount} due {item.due_on} missed: {paid} paid of {due} due so far",
    )
    state.escalate_to(state.policy.payment_plan.on_missed, now, "payment plan broken")


def offer_due(state: CaseState, now: datetime) -> None:
    """The offer's date and grace passed unpaid: it lapses and chasing resumes (at the policy's step)."""
    assert state.policy is not None and state.offer is not None
    offer, state.offer = state.offer, None
    paid = state.total_paid - offer.paid_before
    state.record(now, "settlement_lapsed", f"{describe(offer, state.case.currency)} lapsed; paid {paid}")
    state.escalate_to(state.policy.settlement.on_lapsed, now, "settlement offer lapsed")


def promise_deadline(state: CaseState) -> datetime:
    assert state.policy is not None and state.promise is not None
    end = state.promise.promised_on + timedelta(days=state.policy.promise.grace_days + 1)
    return start_of_day(end, state.policy.calendar)


def installment_deadline(state: CaseState, k: int) -> datetime:
    assert state.policy is not None and state.plan is not None
    end = state.plan.installments[k].due_on + timedelta(days=state.policy.payment_plan.grace_days + 1)
    return start_of_day(end, state.policy.calendar)


def offer_deadline(state: CaseState) -> datetime:
    assert state.policy is not None and state.offer is not None
    end = state.offer.pay_by + timedelta(days=state.policy.settlement.grace_days + 1)
    return start_of_day(end, state.policy.calendar)
