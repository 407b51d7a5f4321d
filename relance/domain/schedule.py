"""When each step of a policy runs: one pure function shared by the workflow and `relance policy explain`.

Rules a credit manager can rely on:
- a step runs at the opening of the sending window on its day (due date + offset), moved to the next
  contact day when that day is a weekend or holiday (when the policy counts business days only);
- a case that is late when it starts or resumes runs only the latest step it has missed, never a burst;
  a pre-due step that was missed is skipped once the invoice is due; legal steps (formal notice, court,
  agency) are never skipped that way: each is the premise of the next, so catching up starts at the first;
- two steps are at least `min_days_between_steps` apart;
- an escalation (broken promise, missed installment) makes its target step due at once.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from relance.domain.calendar import local_day, next_send_slot, slot_on_or_after_day, start_of_day
from relance.domain.policy import LEGAL_ACTIONS, Policy, Step


@dataclass(frozen=True)
class PlannedStep:
    index: int
    step: Step
    at: datetime


@dataclass(frozen=True)
class Schedule:
    skipped: list[tuple[Step, str]] = field(default_factory=list)
    planned: list[PlannedStep] = field(default_factory=list)

    @property
    def next(self) -> PlannedStep | None:
        return self.planned[0] if self.planned else None


def nominal_time(policy: Policy, due_date: date, step: Step) -> datetime:
    return slot_on_or_after_day(due_date + timedelta(days=step.offset_days), policy.calendar)


def plan_steps(
    policy: Policy,
    due_date: date,
    now: datetime,
    *,
    cursor: int = 0,
    last_contact_at: datetime | None = None,
    escalate: bool = False,
    invoice_due: date | None = None,
) -> Schedule:
    """Skipped and dated steps from `cursor` on, as seen at `now`.

    `due_date` is what the steps count from; `invoice_due`, when the time a case spent on hold moved that
    date, is the invoice's own: a pre-due step never runs once the invoice is due.
    """
    cal = policy.calendar
    steps = policy.steps[cursor:]
    if not steps:
        return Schedule()

    def earliest_after(previous: datetime | None) -> datetime | None:
        if previous is None:
            return None
        return slot_on_or_after_day(local_day(previous, cal) + timedelta(days=policy.min_days_between_steps), cal)

    def not_before(candidate: datetime, previous: datetime | None) -> datetime:
        floor = earliest_after(previous)
        return candidate if floor is None or candidate >= floor else floor

    skipped: list[tuple[Step, str]] = []
    due_started = now >= start_of_day(invoice_due or due_date, cal)
    first_at: datetime | None
    if escalate:
        first = 0
        first_at = next_send_slot(now, cal)
    else:
        missed = [i for i, s in enumerate(steps) if nominal_time(policy, due_date, s) <= now]
        first = missed[-1] if missed else 0
        legal = [i for i in missed if steps[i].action in LEGAL_ACTIONS]
        if legal:
            first = legal[0]
        for step in steps[:first]:
            skipped.append((step, "missed while the case was late or paused; only the latest missed step runs"))
        while first < len(steps) and steps[first].offset_days < 0 and due_started:
            skipped.append((steps[first], "pre-due step missed and the invoice is now due"))
            first += 1
        first_at = (
            next_send_slot(now, cal)
            if first < len(steps) and nominal_time(policy, due_date, steps[first]) <= now
            else None
        )

    planned: list[PlannedStep] = []
    previous = last_contact_at
    for offset, step in enumerate(steps[first:]):
        candidate = first_at if offset == 0 and first_at is not None else nominal_time(policy, due_date, step)
        at = not_before(candidate, previous)
        planned.append(PlannedStep(index=cursor + first + offset, step=step, at=at))
        previous = at
    return Schedule(skipped=skipped, planned=planned)
