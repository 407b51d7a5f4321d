"""Pauses freeze the policy clock (relance/domain/case.py `track_pause`, planning), as table tests.

Every row: a b2b-standard case due Thursday 30 April 2026 whose courtesy note went out, put on hold one way or
another, then released; what it does next. The issue this answers: disputed on day 2 and rejected on day 60,
a case used to skip every friendly step and send the formal notice.
"""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest

from relance.domain import holds, planning
from relance.domain.actions import DisputeOpened, DisputeOutcome, DisputeResolved, Pause, Resume
from relance.domain.case import CaseState
from relance.domain.policy import DISPUTE_OUTCOMES
from relance.rendering.messages import render
from relance.settings import Settings
from tests.builders import at_step, case, paris

DISPUTED, RESOLVED = paris(2026, 5, 2, 12), paris(2026, 6, 29, 12)  # day 2, day 60
Move = Callable[[CaseState], None]


def dispute(since: datetime = DISPUTED) -> Move:
    return lambda state: state.apply(DisputeOpened(reason="goods damaged"), since)


def rejected(at: datetime = RESOLVED) -> Move:
    return lambda state: state.apply(DisputeResolved(outcome=DisputeOutcome.rejected), at)


def pause(since: datetime = DISPUTED) -> Move:
    return lambda state: state.apply(Pause(reason="customer asked for time"), since)


def resume(at: datetime = RESOLVED) -> Move:
    return lambda state: state.apply(Resume(), at)


def hold(since: datetime = DISPUTED) -> Move:
    return lambda state: holds.hold_for_customer(state, "hold", "global dispute", None, since)


def release(at: datetime = RESOLVED) -> Move:
    return lambda state: holds.release_for_customer(state, "sales", at)


ROWS = [
    # label, on_resume per kind, moves, (next step, at), days shifted
    ("dispute", {}, [dispute(), rejected()], ("reminder-1", paris(2026, 7, 2, 9)), 58),
    ("manual pause", {}, [pause(), resume()], ("reminder-1", paris(2026, 6, 29, 12)), 58),
    ("customer hold", {}, [hold(), release()], ("reminder-1", paris(2026, 6, 29, 12)), 58),
    (
        "dispute, catch_up",
        {"dispute": "catch_up"},
        [dispute(), rejected()],
        ("formal-notice", paris(2026, 7, 2, 9)),
        0,
    ),
    (
        "hold before the due date",
        {},
        [hold(paris(2026, 4, 21, 12)), release(paris(2026, 4, 28, 12))],
        ("reminder-1", paris(2026, 5, 4, 9)),  # 1 May is a holiday
        0,
    ),
    (
        "overlapping dispute and pause count once",
        {},
        [dispute(), pause(paris(2026, 5, 10, 12)), rejected(paris(2026, 6, 1, 12)), resume()],
        ("reminder-1", paris(2026, 6, 29, 12)),
        58,
    ),
    (
        "catch_up for one kind, continue for another that overlapped",
        {"dispute": "catch_up"},
        [dispute(), hold(paris(2026, 5, 10, 12)), rejected(paris(2026, 6, 1, 12)), release()],
        ("reminder-1", paris(2026, 6, 29, 12)),
        58,
    ),
    (
        "two disputes add up",
        {},
        [dispute(), rejected(paris(2026, 5, 12, 12)), dispute(paris(2026, 5, 13, 12)), rejected()],
        ("reminder-1", paris(2026, 7, 2, 9)),  # 10 + 47 days: 1 May + 57 = 27 June, then 3 days after 29 June
        57,
    ),
]


@pytest.mark.parametrize(("label", "rules", "moves", "expected", "shifted"), ROWS, ids=[r[0] for r in ROWS])
def test_what_a_case_does_after_a_pause(label, rules, moves, expected, shifted):
    state = case()
    assert state.policy is not None
    state.policy = state.policy.model_copy(deep=True)  # the shipped policy is shared by every row
    for kind, choice in rules.items():
        getattr(state.policy.pauses, kind).on_resume = choice
    at_step("reminder-1")(state)
    for move in moves:
        move(state)
    now = max(h.at for h in state.history)
    event = planning.next_event(state, now, commit=False, notices=False)  # what comes after the notice
    assert event is not None and (event.id, event.at) == expected
    assert state.pause_shift_days == shifted


def test_the_debtor_is_told_each_outcome():
    state = case()
    for outcome, credit in (("rejected", None), ("partially_accepted", Decimal("100"))):
        state.apply(DisputeOpened(reason="x"), DISPUTED)
        state.apply(DisputeResolved(outcome=DisputeOutcome(outcome), credited_amount=credit), RESOLVED)
    assert [(n.key, n.template, n.credited, n.any_stage) for n in state.notices] == [
        ("dispute-1-rejected", "dispute_rejected", Decimal("0"), False),
        ("dispute-2-partially_accepted", "dispute_partially_accepted", Decimal("100"), False),
    ]


@pytest.mark.parametrize("outcome", DISPUTE_OUTCOMES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_outcome_reads_in_both_languages(outcome, language):
    from relance.domain.activity_contract import step_request

    state = case(customer={"language": language})
    request = step_request(state, "invoice-PL-1", f"dispute-1-{outcome}", f"dispute_{outcome}", RESOLVED)
    request.credited_now = Decimal("250") if outcome != "rejected" else None
    request.pay_by = RESOLVED.date() if outcome != "accepted" else None
    message = render("email", request, Decimal("1000"), Settings())
    money = {"fr": ("250,00\xa0€", "1\u202f000,00\xa0€"), "en": ("€250.00", "€1,000.00")}[language]
    expected = {
        "rejected": [money[1]],
        "partially_accepted": [money[0], money[1]],
        "accepted": [money[0]],
    }[outcome]
    assert all(figure in message.body for figure in expected), message.body
    assert "PL-1" in message.subject
    assert "{{" not in message.body and "None" not in message.body
