"""Holds and the pause clock: a dispute, a manual pause, a customer's hold; while any lasts nothing is sent,
and when the last ends the steps still ahead move later by the days late spent on hold (unless the policy
catches up). Each action's check and effect, declared in relance/domain/rules.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from relance.domain.actions import DisputeOpened, DisputeOutcome, DisputeResolved, Pause, Resume
from relance.domain.case_legal import Outcome
from relance.domain.case_records import DebtorNotice
from relance.domain.errors import Rejected
from relance.domain.money import ZERO, amount_ok

if TYPE_CHECKING:  # the rules read and change a case's state; the state does not import its rules back
    from relance.domain.case import CaseState


class Hold(BaseModel):
    reason: str
    since: datetime
    until: date | None = None
    kind: str = "hold"


def check_dispute_opened(state: CaseState, action: DisputeOpened, now: datetime) -> None:
    if state.dispute is not None:
        raise Rejected(f"a dispute is already open since {state.dispute.since.date()}")


def open_dispute(state: CaseState, action: DisputeOpened, now: datetime) -> None:
    by = action.by
    state.dispute = Hold(reason=action.reason, since=now)
    state.record(now, "dispute_opened", f"dispute opened: {action.reason}; chasing paused", by=by)
    if state.promise is not None or state.plan is not None:
        state.promise = None
        state.plan = None
        state.record(now, "arrangement_ended", "the dispute supersedes the promise or plan", by=by)


def check_dispute_resolved(state: CaseState, action: DisputeResolved, now: datetime) -> None:
    if state.dispute is None:
        raise Rejected("no dispute is open on this case")
    if action.credited_amount is not None:
        amount_ok(state, action.credited_amount, "credited_amount")
        if action.outcome is DisputeOutcome.partially_accepted and action.credited_amount >= state.balance:
            raise Rejected(
                f"credited_amount {action.credited_amount} must be below the balance {state.balance} "
                "for a partial acceptance (use outcome accepted to credit it all)"
            )


def resolve_dispute(state: CaseState, action: DisputeResolved, now: datetime) -> None:
    state.dispute = None
    by = action.by
    state.last_contact_at = now
    state.disputes_resolved += 1
    credit = ZERO
    if action.outcome is not DisputeOutcome.rejected:
        credit = state.balance if action.outcome is DisputeOutcome.accepted else action.credited_amount or ZERO
    state.notices.append(  # the debtor is told the outcome
        DebtorNotice(
            key=f"dispute-{state.disputes_resolved}-{action.outcome.value}",
            template=f"dispute_{action.outcome.value}",
            credited=credit,
            any_stage=action.outcome is DisputeOutcome.accepted,
        )
    )
    if action.outcome is DisputeOutcome.rejected:
        state.record(now, "dispute_resolved", "dispute rejected; chasing resumes", by=by)
        return
    state.credited += credit
    state.balance -= credit
    state.record(
        now,
        "dispute_resolved",
        f"dispute {action.outcome.value}: {credit} {state.case.currency} credited",
        by=by,
        credited=str(credit),
    )
    if state.balance <= 0:
        state.balance = ZERO
        outcome = Outcome.paid if state.total_paid > 0 else Outcome.cancelled
        state.close(now, outcome, "nothing left to collect after the credit", by=by)


def check_pause(state: CaseState, action: Pause, now: datetime) -> None:
    today = state.today(now)
    if action.until is not None and action.until <= today:
        raise Rejected(f"until {action.until} must be after today ({today})")


def pause(state: CaseState, action: Pause, now: datetime) -> None:
    by = action.by
    state.manual_pause = Hold(reason=action.reason, since=now, until=action.until)
    until = f" until {action.until}" if action.until else ""
    state.record(now, "paused", f"paused{until}: {action.reason}", by=by)


def check_resume(state: CaseState, action: Resume, now: datetime) -> None:
    if state.manual_pause is None:
        hint = " (a dispute ends with dispute_resolved)" if state.dispute else ""
        raise Rejected(f"the case is not paused{hint}")


def resume(state: CaseState, action: Resume, now: datetime) -> None:
    by = action.by
    state.manual_pause = None
    state.record(now, "resumed", "chasing resumed by an operator", by=by)


def hold_for_customer(
    state: CaseState, kind: str, reason: str, until: date | None, now: datetime, by: str | None = None
) -> None:
    """The customer's account holds (or excludes) every case of the customer."""
    state.customer_hold = Hold(reason=reason, since=now, until=until, kind=kind)
    state.record(now, f"customer_{kind}", f"customer account {kind}: {reason}; chasing paused", by=by)
    track_pause(state, now)


def release_for_customer(state: CaseState, by: str | None, now: datetime) -> None:
    state.customer_hold = None
    state.record(now, "customer_released", "customer account released: chasing resumes", by=by)
    track_pause(state, now)


def track_pause(state: CaseState, now: datetime) -> None:
    """Keep the policy clock still while the case is on hold: when the last hold ends, the steps still
    ahead move later by the days it lasted, unless every kind of pause involved chose `catch_up`."""
    if state.policy is None or state.closed:
        return
    if state.on_hold:
        state.paused_since = state.paused_since or now
        state.pause_kinds.extend(k for k, held in _holds(state) if held and k not in state.pause_kinds)
        return
    if state.paused_since is None:
        return
    # only days when the invoice was late count: a hold before the due date delays nothing
    days = (state.today(now) - max(state.today(state.paused_since), state.case.due_date)).days
    rules = state.policy.pauses
    continues = [k for k in state.pause_kinds if getattr(rules, k).on_resume == "continue"]
    held = ", ".join(k.replace("_", " ") for k in state.pause_kinds)
    if days > 0 and continues:
        state.pause_shift_days += days
        state.record(
            now,
            "clock_shifted",
            f"{days} days on hold ({held}) do not count: the steps still ahead move {days} days later",
            days=days,
        )
    elif days > 0:
        state.record(now, "clock_not_shifted", f"{days} days on hold ({held}); the policy catches up")
    state.paused_since, state.pause_kinds = None, []


def _holds(state: CaseState) -> list[tuple[str, bool]]:
    return [
        ("dispute", state.dispute is not None),
        ("manual", state.manual_pause is not None),
        ("customer_hold", state.customer_hold is not None),
    ]


def lift_expired_pause(state: CaseState, now: datetime) -> None:
    if state.manual_pause is not None and state.manual_pause.until is not None:
        state.manual_pause = None
        state.record(now, "resumed", "pause ended as planned")
        track_pause(state, now)
