"""Where a reminder is decided (relance/domain/planning.py), as table tests: no Temporal server, exact instants.

Every row builds a case of the b2b-standard policy (due Thursday 30 April 2026, Paris calendar, sending
window 09:00-18:00 on business days), puts it in a situation, and reads what it waits for next.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from relance.domain import planning
from relance.domain.actions import Installment
from relance.domain.case import CaseState, DayWait, Hold, PlanState, PromiseState
from relance.domain.case_legal import AgencyFile, CourtProceeding, FormalNotice
from relance.domain.case_records import StepRecord
from relance.domain.invoice import CustomerKind
from tests.builders import POLICIES, START, at_step, case, paris


def notice(delivered_on: date | None = None, returned: str | None = None) -> Callable[[CaseState], None]:
    def send(state: CaseState) -> None:
        at_step("injonction")(state)
        state.formal_notice = FormalNotice(
            step_id="formal-notice",
            sent_on=date(2026, 6, 4),
            letter_id="L-1",
            document=None,
            deadline_days=8,
            delivered_on=delivered_on,
            returned=returned,
        )

    return send


def dispute(state: CaseState) -> None:
    state.dispute = Hold(reason="colis abîmé", since=START)


def pause(until: date | None) -> Callable[[CaseState], None]:
    def hold(state: CaseState) -> None:
        state.manual_pause = Hold(reason="négociation", since=START, until=until)

    return hold


def customer_hold(state: CaseState) -> None:
    state.customer_hold = Hold(reason="litige commercial", since=START)


def promise(state: CaseState) -> None:
    state.promise = PromiseState(
        promised_on=date(2026, 5, 15), amount=Decimal("1250.00"), paid_before=Decimal("0"), made_at=START
    )


def plan(reminded: list[int]) -> Callable[[CaseState], None]:
    def agree(state: CaseState) -> None:
        state.plan = PlanState(
            number=1,
            installments=[
                Installment(due_on=date(2026, 6, 1), amount=Decimal("625.00")),
                Installment(due_on=date(2026, 7, 1), amount=Decimal("625.00")),
            ],
            paid_before=Decimal("0"),
            reminded=reminded,
        )

    return agree


def court(state: CaseState) -> None:
    state.court = CourtProceeding(
        route="injonction_de_payer", court="tribunal de commerce", dossier=None, opened_on=START.date()
    )


def agency(state: CaseState) -> None:
    state.agency = AgencyFile(
        agency="Recouvre",
        mandate_reference="M-1",
        commission_rate=Decimal("0.1"),
        handed_on=START.date(),
        delivery_id=None,
    )


def all_steps_ran(state: CaseState) -> None:
    assert state.policy is not None
    state.advance_past(len(state.policy.steps) - 1, paris(2026, 6, 19, 9))


def limitation_soon(state: CaseState) -> None:
    assert state.policy is not None
    state.policy.legal.warn_days_before_limitation = 90


def nothing(state: CaseState) -> None:
    return None


NEXT_EVENTS = [
    # label, situation, now, expected (kind, id, at) or None
    (
        "first step: courtesy 5 days before due, Saturday moved to Monday 09:00",
        nothing,
        START,
        ("step", "courtesy", paris(2026, 4, 27, 9)),
    ),
    ("reminder-1 the day after due", at_step("reminder-1"), START, ("step", "reminder-1", paris(2026, 5, 1 + 3, 9))),
    ("a dispute: nothing until it is resolved", dispute, START, None),
    (
        "a pause with an end: resume at the start of that day",
        pause(date(2026, 5, 10)),
        START,
        ("resume", "pause-end", paris(2026, 5, 10)),
    ),
    ("a pause without an end", pause(None), START, None),
    ("a customer hold", customer_hold, START, None),
    (
        "a promise: checked the day after its grace days",
        promise,
        START,
        ("promise_check", "promise", paris(2026, 5, 18)),
    ),
    (
        "a plan: reminder 3 days before the installment",
        plan([]),
        START,
        ("installment_reminder", "installment-1-reminder", paris(2026, 5, 29, 9)),
    ),
    (
        "a plan, reminder sent: check after the grace days",
        plan([0]),
        START,
        ("installment_check", "installment-1", paris(2026, 6, 5)),
    ),
    ("in court: the court decides", court, START, None),
    ("at an agency: the agency decides", agency, START, None),
    ("dossier waits for the proof of delivery", notice(), paris(2026, 6, 20, 12), None),
    ("dossier waits for a new address", notice(returned="NPAI"), paris(2026, 6, 20, 12), None),
    (
        "dossier after the notice deadline (delivered 6 June + 8 days)",
        notice(date(2026, 6, 6)),
        paris(2026, 6, 10, 12),
        ("step", "injonction", paris(2026, 6, 19, 9)),
    ),
    (
        "dossier at its own date when the deadline ran earlier",
        notice(date(2026, 6, 1)),
        paris(2026, 6, 10, 12),
        ("step", "injonction", paris(2026, 6, 19, 9)),
    ),
    (
        "every step ran: close 30 days after",
        all_steps_ran,
        paris(2026, 6, 20),
        ("close", "policy-end", paris(2026, 7, 19, 9)),
    ),
]


@pytest.mark.parametrize(("label", "situation", "now", "expected"), NEXT_EVENTS, ids=[row[0] for row in NEXT_EVENTS])
def test_what_a_case_waits_for_next(label, situation, now, expected):
    state = case()
    situation(state)
    event = planning.next_event(state, now, commit=False)
    assert (None if event is None else (event.kind, event.id, event.at)) == expected


def test_a_limitation_warning_comes_first_when_it_is_earlier():
    state = case(due=date(2021, 6, 1))  # five years between traders: time-barred on 1 June 2026
    limitation_soon(state)
    dispute(state)  # a dispute stops the chasing, not the clock of limitation
    event = planning.next_event(state, paris(2026, 2, 1), commit=False)
    assert event is not None and (event.kind, event.id, event.at) == (
        "limitation_warning",
        "limitation-2026-06-01",
        paris(2026, 3, 3),
    )
    state.limitation_warned_for = date(2026, 6, 1)  # warned once per limitation date
    assert planning.next_event(state, paris(2026, 2, 1), commit=False) is None
    fresh = case()
    limitation_soon(fresh)  # time-barred in 2031: the courtesy e-mail comes first
    first = planning.next_event(fresh, START, commit=False)
    assert first is not None and (first.kind, first.id) == ("step", "courtesy")


def test_steps_a_late_start_made_moot_are_recorded_only_when_committed():
    state = case()
    seen = planning.next_event(state, paris(2026, 5, 20, 12), commit=False)
    assert (state.steps, state.cursor) == ([], 0)
    done = planning.next_event(state, paris(2026, 5, 20, 12), commit=True)
    assert seen == done and done is not None  # only the latest missed step runs, at once
    assert (done.id, done.at) == ("call-1", paris(2026, 5, 20, 12))
    assert [(s.step_id, s.status) for s in state.steps] == [
        ("courtesy", "skipped"),
        ("reminder-1", "skipped"),
        ("reminder-2", "skipped"),
    ]
    assert state.cursor == 3


WAITING = [
    ("nothing legal is due", nothing, START, None),
    (
        "proof of delivery",
        notice(),
        paris(2026, 6, 20, 12),
        "proof of delivery of the formal notice (registered_letter_delivered)",
    ),
    (
        "a new address",
        notice(returned="NPAI"),
        paris(2026, 6, 20, 12),
        "a new address: the formal notice came back (NPAI)",
    ),
    ("nothing once in court", court, paris(2026, 6, 20, 12), None),
]


@pytest.mark.parametrize(("label", "situation", "now", "expected"), WAITING, ids=[row[0] for row in WAITING])
def test_what_a_due_legal_step_waits_for(label, situation, now, expected):
    state = case()
    situation(state)
    assert planning.waiting_for(state, now) == expected


def test_a_failed_formal_notice_holds_the_court_step_with_its_reason():
    state = case()
    at_step("injonction")(state)
    state.steps.append(StepRecord(step_id="formal-notice", at=START, status="failed", detail="MissingRate"))
    assert planning.waiting_for(state, paris(2026, 6, 20, 12)) == (
        "a formal notice, which failed (MissingRate); fix the cause, then re-apply the policy"
    )
    assert planning.next_event(state, paris(2026, 6, 20, 12), commit=False) is None


@pytest.mark.parametrize(
    ("tried_at", "expected", "without_wait"),
    [
        (paris(2026, 6, 4, 9), paris(2026, 6, 5, 9), paris(2026, 6, 4, 9)),  # Thursday: Friday's first slot
        (paris(2026, 6, 5, 17), paris(2026, 6, 8, 9), paris(2026, 6, 5, 17)),  # Friday: Monday, not the weekend
        (paris(2026, 6, 8, 23, 30), paris(2026, 6, 9, 9), paris(2026, 6, 9, 9)),  # at night: the next morning
    ],
)
def test_a_step_waiting_for_a_rate_is_tried_again_the_next_contact_day(tried_at, expected, without_wait):
    state = case()
    at_step("formal-notice")(state)
    state.day_wait = DayWait(step_id="formal-notice", reason="no rate for 2026-H2", since=START, tried_at=tried_at)
    event = planning.next_event(state, tried_at, commit=False)
    assert event is not None and (event.kind, event.id, event.at) == ("step", "formal-notice", expected)
    assert planning.waiting_for(state, tried_at) == "a missing interest rate, tried again each day: no rate for 2026-H2"
    state.day_wait = None
    event = planning.next_event(state, tried_at, commit=False)
    assert event is not None and event.at == without_wait


def blocker(state: CaseState, step_id: str, now: datetime = START) -> str | None:
    assert state.policy is not None
    return planning.step_blocker(state, state.policy.step_index(step_id), now)


def test_why_a_due_step_must_not_run():
    paid = case()
    paid.balance = Decimal("0")
    small = case(amount="40.00")
    consumer = case(kind="consumer")
    barred = case(due=date(2021, 4, 1))
    assert blocker(case(), "reminder-1") is None
    assert blocker(paid, "reminder-1") == "nothing left to collect"
    assert blocker(small, "courtesy") == "balance 40.00 below the step's minimum 50.00"
    assert blocker(small, "call-1") == "balance 40.00 below the step's minimum 500.00"
    assert blocker(barred, "reminder-2", START) is None  # a reminder is never time-barred
    assert blocker(barred, "formal-notice", START) == (
        "escalation refused: the claim is time-barred since 2026-04-01 (limitation period)"
    )
    assert blocker(barred, "formal-notice", START - timedelta(days=30)) is None
    consumer.policy = POLICIES["b2b-standard"].for_case(date(2026, 4, 30))
    consumer.policy.steps[0].conditions.customer_kinds = [CustomerKind.business]
    assert blocker(consumer, "courtesy") == "step is not for consumer customers"
