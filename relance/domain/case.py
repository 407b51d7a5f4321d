"""The state of one collection case and how ops actions change it.

Pure and deterministic: the workflow owns one CaseState, carries it across continue-as-new, and
calls `check` (validators, signals) then `apply` (handlers). Nothing here does I/O or reads a clock.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, BaseModel, Field, PrivateAttr

from relance.domain.actions import (
    LEGAL_OPS,
    Action,
    ContactUpdated,
    DisputeOpened,
    DisputeOutcome,
    DisputeResolved,
    EmailEvent,
    Installment,
    Pause,
    PaymentPlanAgreed,
    PaymentReceived,
    PaymentReversed,
    PromiseToPay,
    ReapplyPolicy,
    Resume,
    SettlementOffered,
    WriteOff,
)
from relance.domain.calendar import local_day, start_of_day
from relance.domain.case_legal import AgencyFile, ContactFlags, CourtProceeding, FormalNotice, Outcome
from relance.domain.case_legal import apply as apply_legal
from relance.domain.case_legal import check as check_legal
from relance.domain.case_records import HistoryEntry, PaymentRecord, StepRecord
from relance.domain.clock import CaseClock
from relance.domain.deliveries import SEEN, MessageTrail, check_event, record_seen, stop_reason
from relance.domain.direct_debit import DirectDebitRules, Representation, represent_on
from relance.domain.errors import AlreadyRecorded, AlreadyReversed, Rejected
from relance.domain.invoice import CaseInput
from relance.domain.lateness import LatenessCause
from relance.domain.limits import bounded
from relance.domain.money import check_amount
from relance.domain.penalties import limitation_date
from relance.domain.policy import SETTLEMENT_OFFER_TEMPLATE, Policy
from relance.domain.settlement import OfferState, describe, kept, offer_refusal

ZERO = Decimal("0")
ADDRESS_TASK = "email_unreachable"  # the call that gets a working address (phone/email_unreachable.*.j2)
# Refused signals are recorded one by one up to this many per case, then only counted: a sender that
# keeps firing bad signals cannot grow the case's state past what a workflow task can carry.
MAX_REFUSALS_RECORDED = 100


def _reversal(reference: str) -> str:
    """The payments line that cancels payment `reference` when it comes back."""
    return f"{reference} (reversed)"


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


class Hold(BaseModel):
    reason: str
    since: datetime
    until: date | None = None
    kind: str = "hold"


DayWaitKind = Literal["rate", "contact_day"]


class DayWait(BaseModel):
    """A due step that cannot run today and is tried again at the next day's first slot: a legal step whose
    statement of account needs a rate the table lacks (`rate`, each day until it runs), or a message whose
    customer already had one today from another of their invoices (`contact_day`: one voice per customer)."""

    step_id: str
    reason: str
    since: datetime
    tried_at: datetime
    kind: DayWaitKind = "rate"


class DebtorNotice(BaseModel):
    """A message that tells the debtor where the case stands (not a demand): a dispute's outcome, the terms
    of a settlement offer."""

    key: str  # the step id of the message: at most once per case and key
    template: str
    credited: Decimal = ZERO
    any_stage: bool = False  # also when the case just closed (nothing is left to pay)
    offer: OfferState | None = None
    channel: Literal["email", "phone"] = "email"  # phone: a task for a person (a relationship follow-up)
    assignee: str | None = None


class NextEvent(BaseModel):
    """What the case waits for next: a policy step, or a check of a promise or payment plan."""

    kind: Literal[
        "step",
        "promise_check",
        "installment_reminder",
        "installment_check",
        "resume",
        "close",
        "limitation_warning",
        "notice",
        "offer_check",
        "represent_debit",
        "represent_settle",
    ]
    id: str
    action: str | None = None
    at: datetime
    index: int | None = None


class CaseState(BaseModel):
    case: CaseInput
    clock: CaseClock
    policy: Policy | None = None
    balance: Decimal
    total_paid: Decimal = ZERO
    credited: Decimal = ZERO
    overpaid: Decimal = ZERO
    payments: list[PaymentRecord] = Field(default_factory=list)
    cursor: int = 0
    # Last step done or last exchange with the debtor (promise, resolution): the cadence counts from it.
    last_contact_at: datetime | None = None
    steps_finished_at: datetime | None = None
    escalate: bool = False
    steps: list[StepRecord] = Field(default_factory=list)
    dispute: Hold | None = None
    manual_pause: Hold | None = None
    promise: PromiseState | None = None
    plan: PlanState | None = None
    plans_made: int = 0
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    ledger_synced: int = 0  # history entries already written to the SQL ledger
    formal_notice: FormalNotice | None = None
    court: CourtProceeding | None = None
    agency: AgencyFile | None = None
    flags: ContactFlags = Field(default_factory=ContactFlags)
    # the debtor's last acknowledgement of the debt (part payment, promise, plan): limitation restarts
    acknowledged_on: date | None = None
    limitation_warned_for: date | None = None  # the limitation date a person was last warned about
    customer_hold: Hold | None = None  # set by the customer's account: hold or exclusion of every case
    refusals: int = 0  # signals refused, recorded or not
    # Ledger sequence of history[0]: before continuing as new, a long-lived case drops entries the ledger
    # already has, so that its carried state stays far below Temporal's payload limit.
    history_base: int = 0
    opened_at: datetime | None = None  # None in states carried from before it was kept: history[0].at
    # read from `rate_wait` too, the name it had when only a missing rate made a step wait
    day_wait: DayWait | None = Field(default=None, validation_alias=AliasChoices("day_wait", "rate_wait"))
    # Pauses freeze the policy clock: while a dispute, a pause or a customer hold lasts, the steps still ahead
    # move later day for day (`track_pause`).
    pause_shift_days: int = 0
    paused_since: datetime | None = None
    pause_kinds: list[str] = Field(default_factory=list)
    notices: list[DebtorNotice] = Field(default_factory=list)  # to send, then dropped
    offer: OfferState | None = None  # an open settlement offer (or early-payment discount)
    offers_made: int = 0
    conceded: Decimal = ZERO  # principal given up by settlements kept
    lateness_cause: LatenessCause | None = None  # why the invoice is paid late, as last learned
    bank_fees: Decimal = ZERO  # fees the bank charged for returned payments (not part of the claim)
    disputes_resolved: int = 0
    _applying: bool = PrivateAttr(default=False)  # inside apply: a nested apply only applies
    _once: bool = PrivateAttr(default=True)
    deliveries: dict[str, MessageTrail] = Field(default_factory=dict)  # step -> delivered, opened, clicked
    representation: Representation | None = None  # a returned direct debit to present again, then wait for
    represented: list[str] = Field(default_factory=list)  # payments presented again already (once each)

    @classmethod
    def open(cls, case: CaseInput, clock: CaseClock, now: datetime) -> "CaseState":
        state = cls(case=case, clock=clock, balance=case.amount, opened_at=now)
        state.record(now, "case_opened", f"case opened for invoice {case.invoice_id}, {case.amount} {case.currency}")
        return state

    # ---- bookkeeping -------------------------------------------------------------------------------

    def record(self, now: datetime, event: str, detail: str, by: str | None = None, **data: Any) -> None:
        self.history.append(HistoryEntry(at=now, event=event, detail=detail, by=by, data=data))

    def refuse(self, now: datetime, action: str, reason: str, payload: str) -> None:
        """A refused signal: recorded with a bounded excerpt of what it carried, up to a count per case."""
        self.refusals += 1
        if self.refusals <= MAX_REFUSALS_RECORDED:
            self.record(now, "rejected", f"{action} rejected: {bounded(reason, 500)}", action=action, payload=payload)
        elif self.refusals == MAX_REFUSALS_RECORDED + 1:
            self.record(
                now,
                "rejections_capped",
                f"more than {MAX_REFUSALS_RECORDED} signals refused: further refusals are counted, not recorded",
            )

    def history_end(self) -> int:
        """The ledger sequence the next history entry will take."""
        return self.history_base + len(self.history)

    def trim_history(self, keep: int) -> None:
        """Drop the oldest entries the ledger already has, keeping at least the `keep` most recent."""
        drop = max(0, min(self.ledger_synced - self.history_base, len(self.history) - keep))
        if drop:
            del self.history[:drop]
            self.history_base += drop

    @property
    def closed(self) -> bool:
        return self.outcome is not None

    @property
    def on_hold(self) -> bool:
        return self.dispute is not None or self.manual_pause is not None or self.customer_hold is not None

    def today(self, now: datetime) -> date:
        assert self.policy is not None
        return local_day(now, self.policy.calendar)

    def close(self, now: datetime, outcome: Outcome, detail: str, by: str | None = None) -> None:
        self.outcome = outcome
        self.closed_at = now
        self.promise = None
        self.plan = None
        self.offer = None
        self.notices = [n for n in self.notices if n.any_stage]  # what is owed no longer matters
        self.record(now, "case_closed", detail, by=by, outcome=outcome.value)

    def step_done(self, now: datetime, record: StepRecord) -> None:
        self.steps.append(record)
        if record.status == "done":
            self.last_contact_at = now
        self.record(now, f"step_{record.status}", f"{record.step_id}: {record.detail}", step_id=record.step_id)

    def advance_past(self, index: int, now: datetime) -> None:
        assert self.policy is not None
        self.cursor = index + 1
        self.escalate = False
        if self.cursor >= len(self.policy.steps) and self.steps_finished_at is None:
            self.steps_finished_at = now

    def escalate_to(self, step_id: str | None, now: datetime, why: str) -> None:
        """Make the target step due at once (never going back to a step already passed)."""
        assert self.policy is not None
        if step_id is None:
            self.record(now, "escalation", f"{why}; the policy names no escalation step, chasing resumes")
            return
        target = max(self.policy.step_index(step_id), self.cursor)
        if target >= len(self.policy.steps):
            self.steps_finished_at = now
            days = self.policy.end.close_after_days
            self.record(now, "escalation", f"{why}; every step already ran, the case stays open {days} days")
            return
        for step in self.policy.steps[self.cursor : target]:
            self.step_done(now, StepRecord(step_id=step.id, at=now, status="skipped", detail=f"{why}: escalated past"))
        self.cursor = target
        self.escalate = True
        self.steps_finished_at = None
        self.record(now, "escalation", f"{why}; escalating to step {self.policy.steps[target].id}")

    # ---- checks (validators and signals) ------------------------------------------------------------

    def check(self, action: Action, now: datetime) -> None:
        """Raise Rejected with a clear reason when the action cannot apply to this case now."""
        if self.closed:
            raise Rejected(f"case {self.case.invoice_id} is closed ({self.outcome.value if self.outcome else ''})")
        if self.policy is None:
            raise Rejected("case is starting (policy not resolved yet); try again in a moment")
        if isinstance(action, LEGAL_OPS):
            check_legal(self, action, now)
            return
        today = self.today(now)
        currency = self.case.currency

        def amount_ok(value: Decimal, what: str) -> None:
            try:
                check_amount(value, currency, what=what)
            except ValueError as exc:
                raise Rejected(str(exc)) from exc

        match action:
            case PaymentReceived():
                amount_ok(action.amount, "payment amount")
                if action.paid_on > today:
                    raise Rejected(f"paid_on {action.paid_on} is in the future (today is {today})")
                if any(p.reference == action.reference for p in self.payments):
                    raise AlreadyRecorded(f"payment reference {action.reference!r} is already recorded on this case")
            case EmailEvent():
                if action.at > now + timedelta(minutes=10):  # the provider's clock, give or take
                    raise Rejected(f"at {action.at.isoformat()} is in the future")
                check_event(self.deliveries, self.flags.email_invalid, action)
            case PaymentReversed():
                amount_ok(action.amount, "reversed amount")
                if action.reversed_on > today:
                    raise Rejected(f"reversed_on {action.reversed_on} is in the future (today is {today})")
                paid = [p for p in self.payments if p.reference == action.reference and p.amount > 0]
                if not paid:
                    raise Rejected(f"no payment with reference {action.reference!r} on this case")
                if any(p.reference == _reversal(action.reference) for p in self.payments):
                    raise AlreadyReversed(f"payment {action.reference!r} is already reversed")
                if action.amount > paid[0].amount:
                    raise Rejected(f"reversed amount {action.amount} is above the payment's {paid[0].amount}")
            case DisputeOpened():
                if self.dispute is not None:
                    raise Rejected(f"a dispute is already open since {self.dispute.since.date()}")
            case DisputeResolved():
                if self.dispute is None:
                    raise Rejected("no dispute is open on this case")
                if action.credited_amount is not None:
                    amount_ok(action.credited_amount, "credited_amount")
                    if action.outcome is DisputeOutcome.partially_accepted and action.credited_amount >= self.balance:
                        raise Rejected(
                            f"credited_amount {action.credited_amount} must be below the balance {self.balance} "
                            "for a partial acceptance (use outcome accepted to credit it all)"
                        )
            case PromiseToPay():
                if self.dispute is not None:
                    raise Rejected("the case is in dispute: resolve the dispute before recording a promise")
                if self.plan is not None:
                    raise Rejected("the case follows a payment plan; a promise cannot replace it")
                if action.promised_on < today:
                    raise Rejected(f"promised_on {action.promised_on} is in the past (today is {today})")
                if action.amount is not None:
                    amount_ok(action.amount, "promised amount")
                    if action.amount > self.balance:
                        raise Rejected(f"promised amount {action.amount} is above the balance {self.balance}")
            case PaymentPlanAgreed():
                self._check_plan(action.installments, today, amount_ok)
            case SettlementOffered():
                if self.dispute is not None:
                    raise Rejected("the case is in dispute: resolve the dispute before offering a settlement")
                if self.plan is not None:
                    raise Rejected("the case follows a payment plan; a settlement offer cannot replace it")
                if self.offer is not None:
                    raise Rejected(f"{describe(self.offer, self.case.currency)} is still open")
                amount_ok(action.amount, "offer amount")
                refusal = offer_refusal(action.amount, action.pay_by, action.waive, self.balance, today)
                if refusal is not None:
                    raise Rejected(refusal)
            case Pause():
                if action.until is not None and action.until <= today:
                    raise Rejected(f"until {action.until} must be after today ({today})")
            case Resume():
                if self.manual_pause is None:
                    hint = " (a dispute ends with dispute_resolved)" if self.dispute else ""
                    raise Rejected(f"the case is not paused{hint}")
            case WriteOff() | ContactUpdated() | ReapplyPolicy():
                pass  # a policy re-applied is checked when the workflow resolves it
            case _:
                raise Rejected(f"unknown action {type(action).__name__}")

    def _check_plan(self, installments: list[Installment], today: date, amount_ok: Any) -> None:
        assert self.policy is not None
        if self.dispute is not None:
            raise Rejected("the case is in dispute: resolve the dispute before agreeing a plan")
        limit = self.policy.payment_plan.max_installments
        if len(installments) > limit:
            raise Rejected(f"{len(installments)} installments; the policy allows at most {limit}")
        for n, item in enumerate(installments, start=1):
            amount_ok(item.amount, f"installment {n} amount")
            if n == 1 and item.due_on < today:
                raise Rejected(f"installment 1 is due {item.due_on}, in the past (today is {today})")
            if n > 1 and item.due_on <= installments[n - 2].due_on:
                raise Rejected(f"installment {n} ({item.due_on}) must fall after installment {n - 1}")
        total = sum((i.amount for i in installments), ZERO)
        if total != self.balance:
            raise Rejected(f"installments add up to {total}, the balance is {self.balance}")

    # ---- effects (handlers) ----------------------------------------------------------------------

    def apply(self, action: Action, now: datetime, *, once: bool = True) -> None:
        """Apply an action the case accepted. The legal rules apply a judgment's or an agency's payment through
        here too, from inside an action: with `once` (cases since the recovery-once-v1 patch), that nested call
        only applies the payment, and the outer one runs the after-recovery and the pause clock, once."""
        if self._applying and self._once:
            self._apply(action, now)
            return
        first, was_open = len(self.history), not self.closed
        self._applying, self._once = True, once
        try:
            self._apply(action, now)
        finally:
            self._applying = False
        if was_open and self.outcome in (Outcome.paid, Outcome.settled):
            self._after_recovery(now)
        cause: LatenessCause | None = getattr(action, "cause", None)
        if cause is not None and len(self.history) > first:
            self.lateness_cause = cause  # the latest a person learned
            self.history[first].data["cause"] = cause.value
        self.track_pause(now)

    def _apply(self, action: Action, now: datetime) -> None:
        by = action.by
        if isinstance(action, LEGAL_OPS):
            apply_legal(self, action, now)
            return
        match action:
            case PaymentReceived():
                self._apply_payment(action, now)
            case DisputeOpened():
                self.dispute = Hold(reason=action.reason, since=now)
                self.record(now, "dispute_opened", f"dispute opened: {action.reason}; chasing paused", by=by)
                if self.promise is not None or self.plan is not None:
                    self.promise = None
                    self.plan = None
                    self.record(now, "arrangement_ended", "the dispute supersedes the promise or plan", by=by)
            case DisputeResolved():
                self._apply_dispute_resolved(action, now)
            case PromiseToPay():
                amount = action.amount if action.amount is not None else self.balance
                self.promise = PromiseState(
                    promised_on=action.promised_on, amount=amount, paid_before=self.total_paid, made_at=now
                )
                self.acknowledge(self.today(now))
                self.last_contact_at = now
                self.record(
                    now,
                    "promise_to_pay",
                    f"promise to pay {amount} {self.case.currency} by {action.promised_on}",
                    by=by,
                    promised_on=action.promised_on.isoformat(),
                    amount=str(amount),
                )
            case PaymentPlanAgreed():
                self.plans_made += 1
                self.promise = None
                self.plan = PlanState(
                    number=self.plans_made, installments=action.installments, paid_before=self.total_paid
                )
                self.acknowledge(self.today(now))
                self.last_contact_at = now
                lines = ", ".join(f"{i.amount} on {i.due_on}" for i in action.installments)
                self.record(now, "payment_plan_agreed", f"payment plan of {len(action.installments)}: {lines}", by=by)
            case SettlementOffered():
                self._apply_offer(action, now)
            case PaymentReversed():
                self._apply_reversal(action, now)
            case EmailEvent():
                self._apply_email_event(action, now)
            case Pause():
                self.manual_pause = Hold(reason=action.reason, since=now, until=action.until)
                until = f" until {action.until}" if action.until else ""
                self.record(now, "paused", f"paused{until}: {action.reason}", by=by)
            case Resume():
                self.manual_pause = None
                self.record(now, "resumed", "chasing resumed by an operator", by=by)
            case WriteOff():
                self.close(now, Outcome.written_off, f"written off: {action.reason}", by=by)
            case ContactUpdated():
                self._apply_contact(action, now)

    def _apply_email_event(self, event: EmailEvent, now: datetime) -> None:
        """Delivered, opened, clicked: kept on the message's trail, once. Bounced, dropped, reported as spam,
        unsubscribed: the address is flagged as an `email_bounced` would (the next e-mail steps become calls)."""
        data = {"step_id": event.step_id, "event_id": event.event_id, "kind": event.kind}
        if event.kind in SEEN:
            assert self.policy is not None
            local = event.at.astimezone(ZoneInfo(self.policy.calendar.timezone))
            self.record(
                now, f"email_{SEEN[event.kind]}", record_seen(self.deliveries, event, local), by=event.by, **data
            )
            return
        self.flags.email_invalid = stop_reason(event)
        self.record(
            now, "email_bounced", f"{self.case.customer.email}: {self.flags.email_invalid}", by=event.by, **data
        )
        # a person is asked for a working address now, not at the next e-mail step (one task per kind and step)
        self.notices.append(DebtorNotice(key=f"address-{event.kind}-{event.step_id}", template=ADDRESS_TASK,
                                         channel="phone", any_stage=True))  # fmt: skip

    def _apply_reversal(self, action: PaymentReversed, now: datetime) -> None:
        """The money is owed again (a negative line in the payments, so that totals stay true); chasing goes
        on at the policy's step for a returned payment, by default its final reminder. A returned direct
        debit is presented again first when the policy and its reason allow, else the debtor is asked for
        another means of payment (`relance.domain.direct_debit`)."""
        assert self.policy is not None
        rules = self.policy.direct_debit
        self.payments.append(
            PaymentRecord(
                amount=-action.amount,
                paid_on=action.reversed_on,
                reference=_reversal(action.reference),
                recorded_at=now,
                stage=self.stage(now),
            )
        )
        self.total_paid -= action.amount
        self.balance += action.amount
        charged = rules is not None and rules.charge_return_fee and action.fee > 0
        if charged:
            self.balance += action.fee  # the contract lets the creditor charge it: part of what is owed
        else:
            self.bank_fees += action.fee
        fee = ""
        if action.fee:
            where = "charged to the debtor" if charged else "recorded apart"
            fee = f"; bank fee {action.fee} {self.case.currency} {where}"
        self.record(
            now,
            "payment_reversed",
            f"payment {action.reference} of {action.amount} {self.case.currency} came back ({action.reason}){fee}",
            by=action.by,
            amount=str(action.amount),
            reference=action.reference,
            fee=str(action.fee),
        )
        if action.mandate is not None:
            self._after_returned_debit(action, rules, now)
        step = self.policy.on_payment_returned or next(
            (s.id for s in self.policy.steps if s.stage == "final_reminder"), None
        )
        self.escalate_to(step, now, "payment returned")

    def _after_returned_debit(self, action: PaymentReversed, rules: DirectDebitRules | None, now: datetime) -> None:
        assert action.mandate is not None
        day, why = represent_on(rules, action.reason, action.reversed_on, self.today(now))
        if day is not None and self.represented:
            day, why = None, f"{action.reason}: a debit of this invoice was already presented again once"
        if day is not None:
            self.represented.append(action.reference)
            self.representation = Representation(
                reference=action.reference, amount=action.amount, reason=action.reason, mandate=action.mandate, on=day
            )
            self.record(now, "debit_to_represent", f"direct debit {action.reference}: {why}", on=str(day))
            return
        self.record(now, "debit_not_represented", f"direct debit {action.reference} not presented again: {why}")
        template = rules.other_means_template if rules is not None else "direct_debit_other_means"
        self.notices.append(DebtorNotice(key=f"other-means-{len(self.represented)}-{action.reversed_on}",
                                         template=template))  # fmt: skip

    def debit_represented(self, now: datetime, end_to_end_id: str, detail: str) -> None:
        """The new debit left for the bank: the chase waits `settle_days` for its credit."""
        assert self.representation is not None
        self.representation.sent_on = self.today(now)
        self.representation.end_to_end_id = end_to_end_id
        self.record(now, "debit_represented", detail, end_to_end_id=end_to_end_id)

    def representation_over(self, now: datetime, why: str) -> None:
        self.representation = None
        self.record(now, "debit_representation_over", why)

    def _apply_offer(self, action: SettlementOffered, now: datetime) -> None:
        self.offers_made += 1
        self.promise = None
        self.offer = OfferState(
            number=self.offers_made,
            amount=action.amount,
            pay_by=action.pay_by,
            waive=action.waive,
            reason=action.reason,
            made_at=now,
            paid_before=self.total_paid,
        )
        self.last_contact_at = now
        self.record(
            now,
            "settlement_offered",
            f"{describe(self.offer, self.case.currency)}: {action.reason}",
            by=action.by,
            amount=str(action.amount),
            pay_by=action.pay_by.isoformat(),
            waive=[w.value for w in action.waive],
        )
        key = f"settlement-{self.offers_made}-offer"
        self.notices.append(DebtorNotice(key=key, template=SETTLEMENT_OFFER_TEMPLATE, offer=self.offer))

    def _after_recovery(self, now: datetime) -> None:
        """Paid after the policy's `after_recovery.from_step`: thank the debtor, and a person follows up the
        relationship (one each per case)."""
        after = self.policy.after_recovery if self.policy is not None else None
        if after is None or self.policy is None:
            return
        threshold = self.policy.step_index(after.from_step)
        ids = {s.id: i for i, s in enumerate(self.policy.steps)}
        if not any(r.status == "done" and ids.get(r.step_id, -1) >= threshold for r in self.steps):
            return
        if after.thank_you:
            self.notices.append(DebtorNotice(key="recovered-thanks", template=after.thank_you_template, any_stage=True))
        if after.follow_up_assignee is not None:
            self.notices.append(
                DebtorNotice(
                    key="recovered-follow-up",
                    template=after.follow_up_template,
                    any_stage=True,
                    channel="phone",
                    assignee=after.follow_up_assignee,
                )
            )
        self.record(
            now,
            "recovered",
            f"paid after {after.from_step}: a thank-you to the debtor, a relationship follow-up for "
            f"{after.follow_up_assignee or 'nobody'}",
        )

    def check_offer(self, now: datetime) -> None:
        """The offer's date and grace passed unpaid: it lapses and chasing resumes (at the policy's step)."""
        assert self.policy is not None and self.offer is not None
        offer, self.offer = self.offer, None
        paid = self.total_paid - offer.paid_before
        self.record(now, "settlement_lapsed", f"{describe(offer, self.case.currency)} lapsed; paid {paid}")
        self.escalate_to(self.policy.settlement.on_lapsed, now, "settlement offer lapsed")

    def offer_deadline(self) -> datetime:
        assert self.policy is not None and self.offer is not None
        end = self.offer.pay_by + timedelta(days=self.policy.settlement.grace_days + 1)
        return start_of_day(end, self.policy.calendar)

    def _apply_payment(self, payment: PaymentReceived, now: datetime) -> None:
        channels = [s.channel for s in self.steps if s.status == "done" and s.channel]
        self.payments.append(
            PaymentRecord(
                amount=payment.amount,
                paid_on=payment.paid_on,
                reference=payment.reference,
                recorded_at=now,
                stage=self.stage(now),
                channel=channels[-1] if channels else None,
            )
        )
        self.total_paid += payment.amount
        self.balance -= payment.amount
        self.acknowledge(payment.paid_on)
        self.record(
            now,
            "payment_received",
            f"payment {payment.amount} {self.case.currency} ref {payment.reference} paid on {payment.paid_on}",
            by=payment.by,
            amount=str(payment.amount),
            reference=payment.reference,
        )
        if self.balance <= 0:
            self.overpaid = -self.balance
            self.balance = ZERO
            extra = f", overpaid by {self.overpaid} {self.case.currency}" if self.overpaid else ""
            self.close(now, Outcome.paid, f"paid in full{extra}", by=payment.by)
            return
        if self.offer is not None and kept(self.offer, self.total_paid):
            offer, conceded = self.offer, self.balance
            self.conceded += conceded
            self.balance = ZERO
            waived = ", ".join(w.value for w in offer.waive)
            self.record(
                now,
                "settlement_kept",
                f"settlement offer {offer.number} kept: {conceded} {self.case.currency} of principal given up "
                f"(waived: {waived})",
                conceded=str(conceded),
                currency=self.case.currency,
                waive=[w.value for w in offer.waive],
            )
            self.close(now, Outcome.settled, f"settled: {conceded} {self.case.currency} conceded", by=payment.by)
            return
        if self.promise is not None and self.total_paid - self.promise.paid_before >= self.promise.amount:
            self.record(now, "promise_kept", f"promise of {self.promise.amount} kept; balance {self.balance}")
            self.promise = None
            self.last_contact_at = now

    def _apply_dispute_resolved(self, action: DisputeResolved, now: datetime) -> None:
        self.dispute = None
        by = action.by
        self.last_contact_at = now
        self.disputes_resolved += 1
        credit = ZERO
        if action.outcome is not DisputeOutcome.rejected:
            credit = self.balance if action.outcome is DisputeOutcome.accepted else action.credited_amount or ZERO
        self.notices.append(  # the debtor is told the outcome
            DebtorNotice(
                key=f"dispute-{self.disputes_resolved}-{action.outcome.value}",
                template=f"dispute_{action.outcome.value}",
                credited=credit,
                any_stage=action.outcome is DisputeOutcome.accepted,
            )
        )
        if action.outcome is DisputeOutcome.rejected:
            self.record(now, "dispute_resolved", "dispute rejected; chasing resumes", by=by)
            return
        self.credited += credit
        self.balance -= credit
        self.record(
            now,
            "dispute_resolved",
            f"dispute {action.outcome.value}: {credit} {self.case.currency} credited",
            by=by,
            credited=str(credit),
        )
        if self.balance <= 0:
            self.balance = ZERO
            outcome = Outcome.paid if self.total_paid > 0 else Outcome.cancelled
            self.close(now, outcome, "nothing left to collect after the credit", by=by)

    def _apply_contact(self, action: ContactUpdated, now: datetime) -> None:
        changes: dict[str, Any] = {}
        if action.email is not None:
            changes["email"] = action.email
            self.flags.email_invalid = None
        if action.address is not None:
            changes["address"] = action.address
            self.flags.address_invalid = None
        if action.phone is not None:
            changes["phone"] = action.phone
        self.case = self.case.model_copy(update={"customer": self.case.customer.model_copy(update=changes)})
        self.record(now, "contact_updated", f"contact updated: {', '.join(changes)}", by=action.by)
        notice = self.formal_notice
        if action.address is not None and notice is not None and notice.returned and self.policy is not None:
            # the returned formal notice is sent again, to the new address
            self.formal_notice = None
            self.cursor = self.policy.step_index(notice.step_id)
            self.steps_finished_at = None
            self.record(now, "formal_notice_to_resend", "the formal notice will be sent again to the new address")

    def hold_for_customer(
        self, kind: str, reason: str, until: date | None, now: datetime, by: str | None = None
    ) -> None:
        """The customer's account holds (or excludes) every case of the customer."""
        self.customer_hold = Hold(reason=reason, since=now, until=until, kind=kind)
        self.record(now, f"customer_{kind}", f"customer account {kind}: {reason}; chasing paused", by=by)
        self.track_pause(now)

    def release_for_customer(self, by: str | None, now: datetime) -> None:
        self.customer_hold = None
        self.record(now, "customer_released", "customer account released: chasing resumes", by=by)
        self.track_pause(now)

    def track_pause(self, now: datetime) -> None:
        """Keep the policy clock still while the case is on hold: when the last hold ends, the steps still
        ahead move later by the days it lasted, unless every kind of pause involved chose `catch_up`."""
        if self.policy is None or self.closed:
            return
        if self.on_hold:
            self.paused_since = self.paused_since or now
            self.pause_kinds.extend(k for k, held in self._holds() if held and k not in self.pause_kinds)
            return
        if self.paused_since is None:
            return
        # only days when the invoice was late count: a hold before the due date delays nothing
        days = (self.today(now) - max(self.today(self.paused_since), self.case.due_date)).days
        rules = self.policy.pauses
        continues = [k for k in self.pause_kinds if getattr(rules, k).on_resume == "continue"]
        held = ", ".join(k.replace("_", " ") for k in self.pause_kinds)
        if days > 0 and continues:
            self.pause_shift_days += days
            self.record(
                now,
                "clock_shifted",
                f"{days} days on hold ({held}) do not count: the steps still ahead move {days} days later",
                days=days,
            )
        elif days > 0:
            self.record(now, "clock_not_shifted", f"{days} days on hold ({held}); the policy catches up")
        self.paused_since, self.pause_kinds = None, []

    def _holds(self) -> list[tuple[str, bool]]:
        return [
            ("dispute", self.dispute is not None),
            ("manual", self.manual_pause is not None),
            ("customer_hold", self.customer_hold is not None),
        ]

    @property
    def schedule_due_date(self) -> date:
        """The due date the policy's steps count from: the invoice's, moved by the days spent on hold."""
        return self.case.due_date + timedelta(days=self.pause_shift_days)

    def reapply(self, policy: Policy, now: datetime, by: str | None) -> None:
        """Another policy (or the newest version of its own) for a running case: it goes on after the last
        of the new policy's steps it already did."""
        done = {s.step_id for s in self.steps if s.status == "done"}
        passed = [i for i, step in enumerate(policy.steps) if step.id in done]
        old = self.policy.label if self.policy else "none"
        self.policy = policy
        self.cursor = passed[-1] + 1 if passed else 0
        self.escalate = False
        self.steps_finished_at = now if self.cursor >= len(policy.steps) else None
        self.record(now, "policy_reapplied", f"policy {old} replaced by {policy.label}", by=by)

    def acknowledge(self, day: date) -> None:
        """A part payment, a promise or a plan is the debtor's acknowledgement: limitation starts again."""
        if self.acknowledged_on is None or day > self.acknowledged_on:
            self.acknowledged_on = day

    def limitation(self) -> date:
        return limitation_date(self.case.due_date, self.case.customer.kind, self.acknowledged_on)

    # ---- time-driven checks ---------------------------------------------------------------------------

    def check_promise(self, now: datetime) -> None:
        assert self.policy is not None and self.promise is not None
        promise, self.promise = self.promise, None
        paid = self.total_paid - promise.paid_before
        if paid >= promise.amount:
            self.record(now, "promise_kept", f"promise of {promise.amount} kept")
            self.last_contact_at = now
            return
        self.record(now, "promise_broken", f"promise of {promise.amount} by {promise.promised_on} broken; paid {paid}")
        self.escalate_to(self.policy.promise.on_broken, now, "promise broken")

    def check_installment(self, now: datetime) -> None:
        assert self.policy is not None and self.plan is not None
        plan = self.plan
        k = plan.checked
        due = plan.due_through(k)
        paid = self.total_paid - plan.paid_before
        item = plan.installments[k]
        if paid >= due:
            plan.checked += 1
            self.record(now, "installment_kept", f"installment {k + 1} of {item.amount} due {item.due_on} paid")
            if plan.checked == len(plan.installments):
                self.plan = None
                self.last_contact_at = now
                self.record(now, "payment_plan_completed", f"plan completed; balance {self.balance}")
            return
        self.plan = None
        self.record(
            now,
            "installment_missed",
            f"installment {k + 1} of {item.amount} due {item.due_on} missed: {paid} paid of {due} due so far",
        )
        self.escalate_to(self.policy.payment_plan.on_missed, now, "payment plan broken")

    def lift_expired_pause(self, now: datetime) -> None:
        if self.manual_pause is not None and self.manual_pause.until is not None:
            self.manual_pause = None
            self.record(now, "resumed", "pause ended as planned")
            self.track_pause(now)

    # ---- reading ------------------------------------------------------------------------------------------

    def policy_end(self) -> datetime:
        """When a case whose steps all ran closes: the policy's wait, from the last step or exchange."""
        assert self.policy is not None and self.steps_finished_at is not None
        last = max(self.steps_finished_at, self.last_contact_at or self.steps_finished_at)
        return last + timedelta(days=self.policy.end.close_after_days)

    def promise_deadline(self) -> datetime:
        assert self.policy is not None and self.promise is not None
        end = self.promise.promised_on + timedelta(days=self.policy.promise.grace_days + 1)
        return start_of_day(end, self.policy.calendar)

    def installment_deadline(self, k: int) -> datetime:
        assert self.policy is not None and self.plan is not None
        end = self.plan.installments[k].due_on + timedelta(days=self.policy.payment_plan.grace_days + 1)
        return start_of_day(end, self.policy.calendar)

    def stage(self, now: datetime) -> str:
        if self.outcome is not None:
            return self.outcome.value
        if self.dispute is not None:
            return "disputed"
        if self.manual_pause is not None:
            return "paused"
        if self.customer_hold is not None:
            return "customer_hold"
        if self.court is not None:
            return "court"
        if self.agency is not None:
            return "agency"
        if self.plan is not None:
            return "payment_plan"
        if self.promise is not None:
            return "promise_to_pay"
        if self.offer is not None:
            return "settlement_offer"
        done = [s.step_id for s in self.steps if s.status == "done"]
        stages = {step.id: step.stage_name for step in self.policy.steps} if self.policy else {}
        if done and done[-1] in stages:
            return stages[done[-1]]
        return "overdue" if self.days_late(now) > 0 else "not_due"

    def days_late(self, now: datetime) -> int:
        today = self.today(now) if self.policy is not None else now.date()
        return max(0, (today - self.case.due_date).days)
