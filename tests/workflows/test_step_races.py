"""What lands on a case while one of its steps is being sent (issue: one rule table, one message path, and the
bugs they hide, bug 1): the step's e-mail is held in the provider's hands (the outbox blocks until the test lets
it go) while a payment comes back; the escalation the return asks for must survive the step's completion."""

import asyncio
import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from activities.email_delivery import OutboxBackend
from tests.builders import invoice, paris

START = paris(2026, 4, 20, 8)
HELD = threading.Event()
RELEASED = threading.Event()


@pytest.fixture(autouse=True)
def held_outbox(monkeypatch):
    """Every e-mail waits, in the provider's thread, until the test releases it."""
    send = OutboxBackend.send

    def held(self, email):
        HELD.set()
        RELEASED.wait(30)
        return send(self, email)

    HELD.clear()
    RELEASED.clear()
    monkeypatch.setattr(OutboxBackend, "send", held)
    yield
    RELEASED.set()


async def test_an_escalation_that_lands_while_a_step_is_sent_is_kept(env, open_case):
    case = await open_case(invoice("RACE-1", starts_at=START))
    await case.update("payment_received", {"amount": "100.00", "paid_on": "2026-04-20", "reference": "P1"})
    RELEASED.set()  # the courtesy e-mail (five days before the due date) goes out at once
    await case.advance_to(paris(2026, 4, 28, 12))
    RELEASED.clear()
    HELD.clear()
    await case.advance_to(paris(2026, 5, 4, 9))  # reminder-1's slot (1 May is a holiday): its e-mail is held
    for _ in range(30):  # a second at a time: a running activity stops the server's clock from skipping
        if HELD.is_set():
            break
        await env.sleep(timedelta(seconds=1))
    assert HELD.is_set()
    reversed_ = {"reference": "P1", "amount": "100.00", "reason": "AM04", "reversed_on": "2026-05-04"}
    during = await case.update("payment_reversed", reversed_)
    assert (during.balance, during.next_step.id) == (Decimal("1250.00"), "final-reminder")  # escalated at once
    RELEASED.set()
    for _ in range(300):
        status = await case.status()
        if any(s.step_id == "reminder-1" and s.status == "done" for s in status.steps):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("reminder-1 was never recorded")
    # the reminder that was in flight is recorded as sent, and the case still goes to its final reminder (three
    # days on, the policy's least gap between two contacts), not back to reminder-2 and the call it escalated past
    assert (status.next_step.id, status.next_step.at) == ("final-reminder", paris(2026, 5, 7, 9))
    assert [h.detail for h in status.history if h.event == "moved_during_step"] == [
        "reminder-1 went out while the case moved on: its new course stands"
    ]
