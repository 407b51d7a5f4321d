"""The state of one collection case: its journal (history, steps, cursor) and where it stands.

Pure and deterministic: the workflow owns one CaseState, carries it across continue-as-new, and calls
`check` (validators, signals) then `apply` (handlers), which run the action's rule (relance/domain/rules.py:
payments, holds, arrangements, contact, the legal stages). Nothing here does I/O or reads a clock.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, PrivateAttr

from relance.domain.actions import Action
from relance.domain.arrangements import PlanState, PromiseState
from relance.domain.calendar import local_day
from relance.domain.case_legal import AgencyFile, ContactFlags, CourtProceeding, FormalNotice, Outcome
from relance.domain.case_records import DebtorNotice, HistoryEntry, PaymentRecord, StepRecord
from relance.domain.clock import CaseClock
from relance.domain.deliveries import MessageTrail
from relance.domain.direct_debit import Representation
from relance.domain.einvoicing import EInvoiceTrail
from relance.domain.errors import Rejected
from relance.domain.holds import Hold, track_pause
from relance.domain.invoice import CaseInput
from relance.domain.lateness import LatenessCause
from relance.domain.limits import bounded
from relance.domain.money import ZERO
from relance.domain.payments import after_recovery
from relance.domain.penalties import limitation_date
from relance.domain.policy import Policy
from relance.domain.rules import rule_for
from relance.domain.settlement import OfferState

# Refused signals are recorded one by one up to this many per case, then only counted: a sender that
# keeps firing bad signals cannot grow the case's state past what a workflow task can carry.
MAX_REFUSALS_RECORDED = 100


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
    replies: list[str] = Field(default_factory=list)  # the debtor's replies recorded (their ids, the latest 200)
    einvoice: EInvoiceTrail | None = None  # what the e-invoicing platform said of the invoice
    credit_notes: list[str] = Field(default_factory=list)  # credit notes applied (their numbers)
    # the customer's other open cases when this one opened (generation v17): none, and it speaks for itself
    others_open_at_start: int | None = None

    @classmethod
    def open(cls, case: CaseInput, clock: CaseClock, now: datetime) -> "CaseState":
        state = cls(case=case, clock=clock, balance=case.amount, opened_at=now)
        state.record(now, "case_opened", f"case opened for invoice {case.invoice_id}, {case.amount} {case.currency}")
        return state

    # ---- bookkeeping -------------------------------------------------------------------------------

    def record(self, now: datetime, event: str, detail: str, by: str | None = None, **data: Any) -> None:
        self.history.append(HistoryEntry(at=now, event=event, detail=detail, by=by, data=data))

    def take_policy(self, policy: Policy, now: datetime, *, seq: int | None = None) -> None:
        """The policy chosen for a new case, recorded in its history. `seq` places the entry at that ledger
        sequence: the opening activity wrote it there (generation v19), before the entries a signal may
        have added while the activity ran, and the history must read as the ledger does."""
        self.policy = policy
        why = f"; {policy.selected_for}" if policy.selected_for else ""
        entry = HistoryEntry(at=now, event="policy_resolved", detail=f"policy {policy.label} chosen for the case{why}")
        self.history.insert(len(self.history) if seq is None else seq - self.history_base, entry)

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
    def einvoice_received_on(self) -> date | None:
        """When the platform said the buyer received the invoice (202, 203), if it did."""
        return self.einvoice.received_on if self.einvoice else None

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
        """Raise Rejected with a clear reason when the action cannot apply to this case now (its rule's check,
        relance/domain/rules.py)."""
        if self.closed:
            raise Rejected(f"case {self.case.invoice_id} is closed ({self.outcome.value if self.outcome else ''})")
        if self.policy is None:
            raise Rejected("case is starting (policy not resolved yet); try again in a moment")
        rule_for(type(action)).check(self, action, now)

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
            after_recovery(self, now)
        cause: LatenessCause | None = getattr(action, "cause", None)
        if cause is not None and len(self.history) > first:
            self.lateness_cause = cause  # the latest a person learned
            self.history[first].data["cause"] = cause.value
        track_pause(self, now)

    def _apply(self, action: Action, now: datetime) -> None:
        rule_for(type(action)).effect(self, action, now)

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

    # ---- reading ------------------------------------------------------------------------------------------

    def policy_end(self) -> datetime:
        """When a case whose steps all ran closes: the policy's wait, from the last step or exchange."""
        assert self.policy is not None and self.steps_finished_at is not None
        last = max(self.steps_finished_at, self.last_contact_at or self.steps_finished_at)
        return last + timedelta(days=self.policy.end.close_after_days)

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
