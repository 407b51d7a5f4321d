"""Where a reminder is decided: what a case waits for next, and whether a due step may run now.

Pure and deterministic, like relance.domain.case: functions of the case state (its policy included) and a
time. The workflow asks `next_event`, sleeps until it, asks `step_blocker` right before acting, and
records what happened; `waiting_for` says what a due legal step waits for (status, Temporal UI). The
policy's own calendar arithmetic lives in relance.domain.schedule; this module adds what the case knows:
pauses, promises, payment plans, legal proceedings, limitation.
"""

from datetime import UTC, date, datetime, timedelta

from relance.domain import arrangements
from relance.domain.calendar import local_day, next_send_slot, slot_on_or_after_day, start_of_day
from relance.domain.case import CaseState, NextEvent
from relance.domain.case_legal import waiting_reason
from relance.domain.case_records import StepRecord
from relance.domain.direct_debit import LEAD_DAYS, DirectDebitRules
from relance.domain.policy import AFTER_FORMAL_NOTICE, LEGAL_ACTIONS, Policy, Step, StepAction
from relance.domain.schedule import plan_steps


def next_event(state: CaseState, now: datetime, *, commit: bool, notices: bool = True) -> NextEvent | None:
    """The next thing this case waits for: a notice to the debtor (a dispute's outcome, a task for a working
    address; even once the case has closed), its process's next event, or a limitation warning before it.

    With `commit`, steps that a late start or a pause made moot are recorded as skipped; without,
    nothing changes (for queries and update answers). Without `notices`, the next event of the process
    itself (what the status shows: a pending notice leaves at the next sending slot anyway).
    """
    if state.notices and notices:
        return NextEvent(kind="notice", id=state.notices[0].key, at=notice_slot(state, now))
    regular = _process_event(state, commit, now)
    warning = limitation_warning(state)
    if warning is not None and (regular is None or warning.at < regular.at):
        return warning
    return regular


def limitation_warning(state: CaseState) -> NextEvent | None:
    """A person is warned once per limitation date, the policy's number of days before it."""
    policy = _policy(state)
    days = policy.legal.warn_days_before_limitation
    if days is None or state.limitation_warned_for == state.limitation():
        return None
    at = start_of_day(state.limitation() - timedelta(days=days), policy.calendar)
    return NextEvent(kind="limitation_warning", id=f"limitation-{state.limitation()}", at=at)


def _process_event(state: CaseState, commit: bool, now: datetime) -> NextEvent | None:
    policy = _policy(state)
    if state.on_hold:
        if state.dispute is None and state.manual_pause and state.manual_pause.until:
            return NextEvent(kind="resume", id="pause-end", at=start_of_day(state.manual_pause.until, policy.calendar))
        return None
    if state.representation is not None:
        return _representation_event(state)
    if state.offer is not None:
        return NextEvent(kind="offer_check", id=f"offer-{state.offer.number}", at=arrangements.offer_deadline(state))
    if state.promise is not None:
        return NextEvent(kind="promise_check", id="promise", at=arrangements.promise_deadline(state))
    if state.plan is not None:
        return _installment_event(state, now)
    if state.court is not None or state.agency is not None:
        return None  # the court or the agency decides now; their outcomes arrive as ops actions
    schedule = plan_steps(
        policy,
        state.schedule_due_date,
        now,
        cursor=state.cursor,
        last_contact_at=state.last_contact_at,
        escalate=state.escalate,
        invoice_due=state.case.due_date,
    )
    if commit:
        for step, why in schedule.skipped:
            state.step_done(now, StepRecord(step_id=step.id, at=now, status="skipped", detail=why))
        if schedule.skipped:
            state.advance_past(policy.step_index(schedule.skipped[-1][0].id), now)
    if schedule.next is not None:
        nxt = schedule.next
        if waiting_reason(state, nxt.step) is not None:
            return None
        at = max(nxt.at, _notice_deadline_passed(state, nxt.step, now), _day_retry(state, nxt.step))
        return NextEvent(kind="step", id=nxt.step.id, action=nxt.step.action.value, at=at, index=nxt.index)
    return NextEvent(kind="close", id="policy-end", at=state.policy_end())


def _representation_event(state: CaseState) -> NextEvent:
    """A returned direct debit presented again: its file leaves before the collection day, then the chase
    waits the policy's days for the money before it resumes."""
    policy, r = _policy(state), state.representation
    assert r is not None
    if r.sent_on is None:
        at = start_of_day(r.on - timedelta(days=LEAD_DAYS), policy.calendar)
        return NextEvent(kind="represent_debit", id=f"represent-{r.reference}", at=at)
    wait = (policy.direct_debit or DirectDebitRules()).settle_days  # a policy re-applied may have none
    at = start_of_day(r.on + timedelta(days=wait), policy.calendar)
    return NextEvent(kind="represent_settle", id=f"represent-{r.reference}-settle", at=at)


def _day_retry(state: CaseState, step: Step) -> datetime:
    """A step waiting a day (a missing rate, the customer's next contact day) is tried again at the next day's
    first sending slot."""
    wait, cal = state.day_wait, _policy(state).calendar
    if wait is None or wait.step_id != step.id:
        return datetime.min.replace(tzinfo=UTC)
    return slot_on_or_after_day(local_day(wait.tried_at, cal) + timedelta(days=1), cal)


def notice_slot(state: CaseState, now: datetime) -> datetime:
    """When a pending notice to the debtor (a dispute's outcome) may leave: now, or the next sending slot."""
    return next_send_slot(now, _policy(state).calendar)


def notice_pay_by(state: CaseState, now: datetime) -> date | None:
    """The day a debtor told of a dispute's outcome is asked to pay by: the day the next step would come."""
    event = _process_event(state, False, now) if not state.closed else None
    return local_day(event.at, _policy(state).calendar) if event is not None and event.kind == "step" else None


def _notice_deadline_passed(state: CaseState, step: Step, now: datetime) -> datetime:
    """Court and agency wait until the formal notice's deadline (from its delivery) has run out."""
    notice = state.formal_notice
    if step.action not in AFTER_FORMAL_NOTICE or notice is None or notice.deadline is None:
        return datetime.min.replace(tzinfo=now.tzinfo)
    return slot_on_or_after_day(notice.deadline + timedelta(days=1), _policy(state).calendar)


def _installment_event(state: CaseState, now: datetime) -> NextEvent:
    policy, plan = _policy(state), state.plan
    assert plan is not None
    k = plan.checked
    check = NextEvent(
        kind="installment_check", id=f"installment-{k + 1}", at=arrangements.installment_deadline(state, k)
    )
    days_before = policy.payment_plan.reminder_days_before
    if days_before is None or k in plan.reminded:
        return check
    due_on = plan.installments[k].due_on
    remind_at = max(
        slot_on_or_after_day(due_on - timedelta(days=days_before), policy.calendar),
        next_send_slot(now, policy.calendar),
    )
    if local_day(remind_at, policy.calendar) > due_on:
        return check
    return NextEvent(
        kind="installment_reminder",
        id=f"installment-{k + 1}-reminder",
        action=StepAction.email.value,
        at=remind_at,
        index=k,
    )


def step_blocker(state: CaseState, index: int, now: datetime) -> str | None:
    """Why a due step must not run now (the balance is checked again where the message leaves)."""
    policy = _policy(state)
    conditions = policy.steps[index].conditions
    if state.balance <= 0:
        return "nothing left to collect"
    if conditions.min_balance is not None and state.balance < conditions.min_balance:
        return f"balance {state.balance} below the step's minimum {conditions.min_balance}"
    if conditions.customer_kinds and state.case.customer.kind not in conditions.customer_kinds:
        return f"step is not for {state.case.customer.kind.value} customers"
    if policy.steps[index].action in LEGAL_ACTIONS and state.today(now) > state.limitation():
        return f"escalation refused: the claim is time-barred since {state.limitation()} (limitation period)"
    return None


def waiting_for(state: CaseState, now: datetime) -> str | None:
    """What the case's due legal step waits for (a proof of delivery, an address), if anything."""
    if state.closed or state.policy is None or state.on_hold or state.court or state.agency:
        return None
    if state.day_wait is not None:
        if state.day_wait.kind == "contact_day":
            return f"the next contact day: {state.day_wait.reason}"
        return f"a missing interest rate, tried again each day: {state.day_wait.reason}"
    schedule = plan_steps(
        state.policy,
        state.schedule_due_date,
        now,
        cursor=state.cursor,
        escalate=state.escalate,
        invoice_due=state.case.due_date,
    )
    return waiting_reason(state, schedule.next.step) if schedule.next is not None else None


def _policy(state: CaseState) -> Policy:
    assert state.policy is not None, "a case plans only once its policy is chosen"
    return state.policy
