"""Reopening a claim: a written-off or policy-completed case comes back while it can still be enforced.

The new run of the case (same workflow id) reads the closed run's state from Temporal itself, never from
the caller, and goes on from it: balance, payments, credits, the formal notice and court history, and the
ledger sequence, so the ledger shows one case whose history says when and why it was reopened.
"""

from datetime import date, datetime

from pydantic import BaseModel, Field

from relance.domain.actions import PaymentReversed
from relance.domain.case import CaseState
from relance.domain.case_legal import Outcome
from relance.domain.errors import Rejected
from relance.domain.limits import Name, Reason

REOPENABLE = (Outcome.written_off, Outcome.policy_completed)
RETURNABLE = (Outcome.paid, Outcome.settled)  # what a returned payment reopens


class Reopen(BaseModel):
    """A run option: this run reopens the case's closed run `previous_run_id`."""

    previous_run_id: str = Field(min_length=1, max_length=100)
    reason: Reason
    by: Name | None = None
    step: Name | None = None  # the policy step chasing resumes at (default: where it stopped)
    reversal: PaymentReversed | None = None  # a payment of a paid case came back: the case reopens owing it


def reopen_refusal(
    state: CaseState, today: date, step: str | None = None, reversal: PaymentReversed | None = None
) -> str | None:
    """Why this closed case cannot be reopened today (None: it can)."""
    invoice = state.case.invoice_id
    if state.outcome is None:
        return f"case {invoice} is open: nothing to reopen"
    if reversal is not None:
        if state.outcome not in RETURNABLE:
            return f"case {invoice} closed as {state.outcome.value}: a returned payment reopens a paid case only"
        if not any(p.reference == reversal.reference and p.amount > 0 for p in state.payments):
            return f"no payment with reference {reversal.reference!r} on case {invoice}"
    elif state.outcome not in REOPENABLE:
        kinds = " or ".join(o.value for o in REOPENABLE)
        return f"case {invoice} closed as {state.outcome.value}: only a case closed as {kinds} can be reopened"
    if today > state.limitation():
        return (
            f"the claim on invoice {invoice} is time-barred since {state.limitation()} (limitation period): "
            "it cannot be reopened"
        )
    if step is not None and state.policy is not None and step not in [s.id for s in state.policy.steps]:
        return f"no step {step!r} in policy {state.policy.label}: one of {[s.id for s in state.policy.steps]}"
    return None


def reopened(closed: CaseState, reopen: Reopen, now: datetime) -> CaseState:
    """The state a reopened run starts from; Rejected when the case cannot be reopened."""
    assert closed.policy is not None, "a closed case chose its policy"
    refusal = reopen_refusal(closed, closed.today(now), reopen.step, reopen.reversal)
    if refusal is not None:
        raise Rejected(refusal)
    state = closed.model_copy(deep=True)
    was = state.outcome.value if state.outcome else "closed"
    state.outcome, state.closed_at = None, None
    state.notices, state.offer, state.day_wait = [], None, None
    policy = state.policy
    assert policy is not None
    if reopen.step is not None:
        state.cursor, state.escalate = policy.step_index(reopen.step), True  # due at once
        state.steps_finished_at = None
    elif state.cursor >= len(policy.steps):
        state.steps_finished_at = now  # every step ran: open for payment the policy's closing wait again
    state.record(
        now,
        "case_reopened",
        f"case reopened (it was {was}): {reopen.reason}"
        + (f"; chasing resumes at {reopen.step}" if reopen.step else ""),
        by=reopen.by,
        previous_run_id=reopen.previous_run_id,
    )
    if reopen.reversal is not None:  # owed again, and chased from the policy's step for returned payments
        state.check(reopen.reversal, now)
        state.apply(reopen.reversal, now)
    return state
