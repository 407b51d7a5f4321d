"""The step schedule, one pure function: a table of situations checked by hand against a calendar.

Calendar used below (Europe/Paris, FR holidays, business days, window 09:00-18:00):
April 2026: Mon 27; May 2026: Fri 1 (Labour Day), Fri 8 (Victory Day), Mon 4, Mon 11, Thu 14
(Ascension), Fri 15, Mon 25 (Whit Monday), Tue 26.
"""

from datetime import date, datetime

import pytest

from relance.domain.calendar import CalendarSpec, SendingWindow, is_contact_day, next_send_slot
from relance.domain.policy import load_policies
from relance.domain.schedule import plan_steps
from relance.settings import Settings
from tests.builders import ROOT, paris

POLICY = load_policies(ROOT / "policies", Settings().template_dir)["b2b-standard"]
DUE = date(2026, 4, 30)


def fmt(at: datetime) -> str:
    return at.astimezone(paris(2026, 1, 1).tzinfo).strftime("%a %d %b %H:%M")


SCHEDULES = [
    # (seen at, cursor, last contact, escalate) -> planned [(step, when)], skipped [step]
    (
        "fresh case, a month ahead",
        paris(2026, 4, 1, 10),
        0,
        None,
        False,
        [
            ("courtesy", "Mon 27 Apr 09:00"),
            ("reminder-1", "Mon 04 May 09:00"),
            ("reminder-2", "Mon 11 May 09:00"),
            ("call-1", "Fri 15 May 09:00"),
            ("final-reminder", "Tue 26 May 09:00"),
            ("formal-notice", "Thu 04 Jun 09:00"),
            ("injonction", "Fri 19 Jun 09:00"),
        ],
        [],
    ),
    (
        "imported on the due date, 10:30: courtesy is pre-due and moot",
        paris(2026, 4, 30, 10, 30),
        0,
        None,
        False,
        [
            ("reminder-1", "Mon 04 May 09:00"),
            ("reminder-2", "Mon 11 May 09:00"),
            ("call-1", "Fri 15 May 09:00"),
            ("final-reminder", "Tue 26 May 09:00"),
            ("formal-notice", "Thu 04 Jun 09:00"),
            ("injonction", "Fri 19 Jun 09:00"),
        ],
        ["courtesy"],
    ),
    (
        "imported two days before due, evening: courtesy next morning",
        paris(2026, 4, 28, 20),
        0,
        None,
        False,
        [
            ("courtesy", "Wed 29 Apr 09:00"),
            ("reminder-1", "Mon 04 May 09:00"),
            ("reminder-2", "Mon 11 May 09:00"),
            ("call-1", "Fri 15 May 09:00"),
            ("final-reminder", "Tue 26 May 09:00"),
            ("formal-notice", "Thu 04 Jun 09:00"),
            ("injonction", "Fri 19 Jun 09:00"),
        ],
        [],
    ),
    (
        "imported 40 days late on a Saturday: the formal notice, Monday (legal steps are never skipped)",
        paris(2026, 6, 6, 11),
        0,
        None,
        False,
        [("formal-notice", "Mon 08 Jun 09:00"), ("injonction", "Fri 19 Jun 09:00")],
        ["courtesy", "reminder-1", "reminder-2", "call-1", "final-reminder"],
    ),
    (
        "resumed inside the window after reminder-1: the latest missed runs at once",
        paris(2026, 5, 12, 15),
        2,
        paris(2026, 5, 4, 9),
        False,
        [
            ("reminder-2", "Tue 12 May 15:00"),
            ("call-1", "Fri 15 May 09:00"),
            ("final-reminder", "Tue 26 May 09:00"),
            ("formal-notice", "Thu 04 Jun 09:00"),
            ("injonction", "Fri 19 Jun 09:00"),
        ],
        [],
    ),
    (
        "a recent contact holds the next step 3 days (14 May is Ascension)",
        paris(2026, 5, 11, 10),
        2,
        paris(2026, 5, 11, 10),
        False,
        [
            ("reminder-2", "Fri 15 May 09:00"),
            ("call-1", "Mon 18 May 09:00"),
            ("final-reminder", "Tue 26 May 09:00"),
            ("formal-notice", "Thu 04 Jun 09:00"),
            ("injonction", "Fri 19 Jun 09:00"),
        ],
        [],
    ),
    (
        "escalation makes the target due at the next slot",
        paris(2026, 5, 7, 19),
        4,
        paris(2026, 5, 4, 9),
        True,
        [
            ("final-reminder", "Mon 11 May 09:00"),
            ("formal-notice", "Thu 04 Jun 09:00"),
            ("injonction", "Fri 19 Jun 09:00"),
        ],
        [],
    ),
    ("every step done", paris(2026, 6, 22, 10), 7, paris(2026, 6, 19, 9), False, [], []),
    (
        "imported 60 days late: the formal notice first, then the dossier 3 days on at the earliest",
        paris(2026, 6, 29, 11),
        0,
        None,
        False,
        [("formal-notice", "Mon 29 Jun 11:00"), ("injonction", "Thu 02 Jul 09:00")],
        ["courtesy", "reminder-1", "reminder-2", "call-1", "final-reminder"],
    ),
]


@pytest.mark.parametrize(
    ("label", "now", "cursor", "last", "escalate", "planned", "skipped"), SCHEDULES, ids=[row[0] for row in SCHEDULES]
)
def test_schedule(label, now, cursor, last, escalate, planned, skipped):
    schedule = plan_steps(POLICY, DUE, now, cursor=cursor, last_contact_at=last, escalate=escalate)
    assert [(p.step.id, fmt(p.at)) for p in schedule.planned] == planned
    assert [s.id for s, _ in schedule.skipped] == skipped


CAL = CalendarSpec(sending_window=SendingWindow(start="10:00", end="13:00"))
SLOTS = [
    (paris(2026, 5, 4, 8), "Mon 04 May 10:00"),  # before the window: opening
    (paris(2026, 5, 4, 11, 15), "Mon 04 May 11:15"),  # inside: right away
    (paris(2026, 5, 4, 13), "Tue 05 May 10:00"),  # at closing: next day
    (paris(2026, 5, 7, 14), "Mon 11 May 10:00"),  # Thursday after closing: Fri 8 May holiday, weekend
    (paris(2026, 12, 24, 16), "Mon 28 Dec 10:00"),  # Christmas Friday, weekend
    (datetime.fromisoformat("2026-05-04T07:30:00+00:00"), "Mon 04 May 10:00"),  # 09:30 in Paris
]


@pytest.mark.parametrize(("at", "slot"), SLOTS)
def test_next_send_slot(at, slot):
    assert fmt(next_send_slot(at, CAL)) == slot


@pytest.mark.parametrize(
    ("day", "contact"),
    [
        (date(2026, 5, 1), False),
        (date(2026, 5, 2), False),
        (date(2026, 5, 4), True),
        (date(2026, 7, 14), False),
        (date(2025, 12, 26), True),
    ],
)
def test_contact_days_in_france(day, contact):
    assert is_contact_day(day, CAL) is contact


def test_alsace_moselle_adds_saint_stephen():
    moselle = CalendarSpec(holidays={"country": "FR", "subdivision": "57"})
    assert is_contact_day(date(2025, 12, 26), moselle) is False  # a Friday
    assert is_contact_day(date(2026, 4, 3), moselle) is False  # Good Friday


def test_calendar_without_business_day_rule_sends_on_weekends():
    every_day = CalendarSpec(business_days_only=False)
    assert fmt(next_send_slot(paris(2026, 5, 1, 20), every_day)) == "Sat 02 May 09:00"
