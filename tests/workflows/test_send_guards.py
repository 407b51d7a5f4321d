"""Where a message leaves: balance and pause re-checked at send time, at most once per case + step."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.debtor_contact import DebtorContact
from activities.email_delivery import OutboxBackend
from activities.side_effects import SideEffects
from relance.domain.activity_contract import StepRequest
from relance.domain.case_view import CaseSeen, CaseStatus
from relance.ledger.db import SideEffect, Task, engine_for
from tests.builders import invoice, paris
from tests.conftest import outbox_messages

START = paris(2026, 4, 20, 8)


def request_for(case_input, step_id: str = "reminder-1", template: str = "reminder_1", **extra) -> StepRequest:
    return StepRequest(
        case_id=case_input.workflow_id,
        invoice_id=case_input.invoice_id,
        step_id=step_id,
        idempotency_key=f"{case_input.workflow_id}:{step_id}",
        template=template,
        customer=case_input.customer,
        amount=case_input.amount,
        currency=case_input.currency,
        issue_date=case_input.issue_date,
        due_date=case_input.due_date,
        as_of=date(2026, 5, 4),
        **extra,
    )


@pytest.fixture
def contact(env, worker) -> DebtorContact:
    engine = engine_for(worker.database_url)
    return DebtorContact(env.client, worker, OutboxBackend(worker.outbox_dir), engine)


def activity_env(scheduled: datetime | None = None) -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = replace(environment.info, current_attempt_scheduled_time=scheduled or datetime.now(UTC))
    return environment


async def test_message_is_not_sent_when_the_case_was_paid_meanwhile(open_case, contact, worker):
    case_input = invoice("G-PAID", starts_at=START)
    case = await open_case(case_input)
    await case.update("payment_received", {"amount": "1250", "paid_on": "2026-04-20", "reference": "R"})
    result = await activity_env().run(contact.send_email, request_for(case_input))
    assert (result.status, result.balance) == ("skipped_settled", Decimal("0"))
    assert outbox_messages(worker) == []


async def test_message_is_not_sent_while_the_case_is_disputed(open_case, contact, worker):
    case_input = invoice("G-DISP", starts_at=START)
    case = await open_case(case_input)
    await case.update("dispute_opened", {"reason": "wrong quantity"})
    result = await activity_env().run(contact.send_email, request_for(case_input))
    assert result.status == "skipped_paused"
    assert result.detail == "not sent: case is disputed (dispute: wrong quantity)"
    assert outbox_messages(worker) == []


async def test_attempt_after_the_sending_window_is_deferred(open_case, contact, worker):
    case_input = invoice("G-LATE", starts_at=START)
    await open_case(case_input)
    closes = datetime(2026, 5, 4, 16, 0, tzinfo=UTC)
    late = activity_env(scheduled=closes + timedelta(minutes=1))
    result = await late.run(contact.send_email, request_for(case_input, window_closes_at=closes))
    assert result.status == "deferred"
    assert outbox_messages(worker) == []


async def test_a_step_is_sent_once_even_when_its_activity_runs_again(open_case, contact, worker):
    case_input = invoice("G-ONCE", starts_at=START)
    await open_case(case_input)
    first = await activity_env().run(contact.send_email, request_for(case_input))
    second = await activity_env().run(contact.send_email, request_for(case_input))
    assert (first.status, second.status) == ("sent", "already_done")
    assert second.provider_id == first.provider_id == "invoice-G-ONCE_reminder-1.eml"
    assert outbox_messages(worker) == ["invoice-G-ONCE_reminder-1.eml"]
    call = request_for(case_input, step_id="call-1", template="call_script")
    tasks = [await activity_env().run(contact.create_phone_task, call) for _ in range(2)]
    assert [t.status for t in tasks] == ["sent", "already_done"]
    with Session(engine_for(worker.database_url)) as session:
        rows = session.execute(select(Task)).scalars().all()
    assert [(r.invoice_id, r.step_id, r.due_on, r.assignee) for r in rows] == [
        ("G-ONCE", "call-1", date(2026, 5, 4), "collections")
    ]
    assert "Il reste 1\u202f250,00\xa0€ à régler, avec 4\xa0jours de retard." in rows[0].script


async def test_outbox_resolves_an_attempt_that_died_mid_send(open_case, contact, worker):
    case_input = invoice("G-DOUBT", starts_at=START)
    await open_case(case_input)
    key = f"{case_input.workflow_id}:reminder-1"
    SideEffects(engine_for(worker.database_url)).claim(key, case_input.workflow_id, "reminder-1", "email")
    # the claim says "sending" but no file exists: the earlier attempt died before writing; send now
    result = await activity_env().run(contact.send_email, request_for(case_input))
    assert result.status == "sent"
    again = await activity_env().run(contact.send_email, request_for(case_input))
    assert again.status == "already_done"
    with Session(engine_for(worker.database_url)) as session:
        row = session.get(SideEffect, key)
        assert (row.status, row.attempts) == ("sent", 1)


class NoQueries:
    """A client for an activity that must not query the case (it runs inside the case's own workflow task)."""

    def get_workflow_handle(self, workflow_id: str) -> None:
        raise AssertionError(f"queried {workflow_id}")


async def test_a_step_in_the_cases_own_task_checks_what_the_case_read_of_itself_and_never_queries(
    open_case, contact, worker
):
    """A lone message run as a local activity (v20) cannot query the case whose task it runs in: the case's own
    reading (`seen`) is its last check. Sent through the server, the same request queries the live case."""
    case_input = invoice("G-HERE", starts_at=START)
    case = await open_case(case_input)
    here = activity_env()
    here.info = replace(here.info, is_local=True)
    local = DebtorContact(NoQueries(), worker, contact.backend, contact.engine)
    disputed = CaseSeen(
        state="paused", stage="disputed", balance=Decimal(1250), chased=Decimal(1250), pause_reason="dispute: x"
    )
    paused = await here.run(local.send_email_alone, request_for(case_input, seen=disputed))
    assert (paused.status, paused.detail) == ("skipped_paused", "not sent: case is disputed (dispute: x)")
    assert outbox_messages(worker) == []
    chasing = CaseSeen(state="open", stage="reminder", balance=Decimal(1250), chased=Decimal(1000), pause_reason=None)
    await case.update("payment_received", {"amount": "1250", "paid_on": "2026-04-20", "reference": "R"})
    through_server = await activity_env().run(contact.send_email, request_for(case_input, seen=chasing))
    assert (through_server.status, through_server.balance) == ("skipped_settled", Decimal(0))  # the live case
    sent = await here.run(local.send_email_alone, request_for(case_input, seen=chasing))
    assert (sent.status, sent.balance) == ("sent", Decimal(1000))  # what the case asks for, as it read itself
    assert outbox_messages(worker) == ["invoice-G-HERE_reminder-1.eml"]


class CountedQueries:
    """A client that lets an activity query cases, and notes which queries it made."""

    def __init__(self, client) -> None:
        self.client = client
        self.asked: list[str] = []

    def get_workflow_handle(self, workflow_id: str):
        handle, asked = self.client.get_workflow_handle(workflow_id), self.asked

        class Noted:
            async def query(self, name: str, *args, **kwargs):
                asked.append(name)
                return await handle.query(name, *args, **kwargs)

        return Noted()


async def test_a_message_through_the_server_reads_the_cases_seen_query_which_answers_as_its_status_does(
    open_case, contact, worker, env
):
    """The last check of a message asks the case its `seen` (what the check reads), not its whole status; both
    answer the same: open and chased, disputed, then paid."""
    case_input = invoice("G-SEEN", starts_at=START)
    case = await open_case(case_input)
    handle = env.client.get_workflow_handle(case_input.workflow_id)
    counted = CountedQueries(env.client)
    noted = DebtorContact(counted, worker, contact.backend, contact.engine)
    answers = []
    for change in (
        None,
        ("dispute_opened", {"reason": "wrong quantity"}),
        ("dispute_resolved", {"outcome": "rejected"}),
        ("payment_received", {"amount": "1250", "paid_on": "2026-04-20", "reference": "R"}),
    ):
        if change is not None:
            await case.update(*change)
        seen = await handle.query("seen", result_type=CaseSeen)
        status = await handle.query("status", result_type=CaseStatus)
        read = (status.state, status.stage, status.balance, status.chased, status.pause_reason)
        assert (seen.state, seen.stage, seen.balance, seen.chased, seen.pause_reason) == read
        answers.append((seen.state, seen.stage, seen.chased))
    assert [a[0] for a in answers] == ["open", "paused", "open", "closed"]
    result = await activity_env().run(noted.send_email, request_for(case_input))
    assert (result.status, result.balance) == ("skipped_settled", Decimal(0))
    assert counted.asked == ["seen"]
