"""Reopening a written-off or policy-completed claim within its limitation period: a new run of the same case
that goes on from the closed one (read from Temporal), refused with the reason otherwise."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.domain.actions import PaymentReceived, PaymentReversed, WriteOff
from relance.domain.case import CaseState
from relance.domain.case_legal import Outcome
from relance.domain.case_view import CaseStatus
from relance.domain.errors import Rejected
from relance.domain.reopening import Reopen, reopen_refusal, reopened
from relance.ledger.db import CaseEvent, CaseRow, engine_for
from starter.executions import describe_execution
from starter.ops import ActionRejected
from starter.ops import reopen as reopen_case
from tests.builders import case, invoice, minute, paris

START = paris(2026, 4, 20, 8)
TODAY = date(2026, 6, 1)


def written_off(state: CaseState) -> None:
    state.close(START, Outcome.written_off, "written off")


def completed(state: CaseState) -> None:
    state.close(START, Outcome.policy_completed, "policy completed")


def paid(state: CaseState) -> None:
    state.close(START, Outcome.paid, "paid in full")


@pytest.mark.parametrize(
    ("label", "situation", "today", "step", "expected"),
    [
        ("written off", written_off, TODAY, None, None),
        ("policy completed", completed, TODAY, "final-reminder", None),
        ("open", lambda s: None, TODAY, None, "case PL-1 is open: nothing to reopen"),
        (
            "paid",
            paid,
            TODAY,
            None,
            "case PL-1 closed as paid: only a case closed as written_off or policy_completed can be reopened",
        ),
        (
            "time-barred (5 years between traders)",
            written_off,
            date(2031, 5, 1),
            None,
            "the claim on invoice PL-1 is time-barred since 2031-04-30 (limitation period): it cannot be reopened",
        ),
        (
            "an unknown step",
            written_off,
            TODAY,
            "relance-3",
            "no step 'relance-3' in policy b2b-standard@v3: one of ['courtesy', 'reminder-1', 'reminder-2', "
            "'call-1', 'final-reminder', 'formal-notice', 'injonction']",
        ),
    ],
)
def test_which_cases_can_be_reopened(label, situation, today, step, expected):
    state = case()
    situation(state)
    assert reopen_refusal(state, today, step) == expected


def test_a_reopened_state_goes_on_from_the_closed_one():
    state = case()
    state.apply(PaymentReceived(amount=Decimal("250"), paid_on=date(2026, 4, 20), reference="V-1"), START)
    state.apply(WriteOff(reason="débiteur injoignable"), START)
    at = paris(2026, 6, 1, 10)
    new = reopened(state, Reopen(previous_run_id="run-1", reason="nouvelle adresse", by="marie", step="reminder-2"), at)
    assert (new.outcome, new.closed_at, new.balance, [p.reference for p in new.payments]) == (
        None,
        None,
        Decimal("1000.00"),
        ["V-1"],
    )
    assert (new.cursor, new.escalate) == (2, True)  # reminder-2, due at once
    entry = new.history[-1]
    assert (entry.event, entry.by, entry.data) == ("case_reopened", "marie", {"previous_run_id": "run-1"})
    assert entry.detail == "case reopened (it was written_off): nouvelle adresse; chasing resumes at reminder-2"
    assert state.outcome == Outcome.written_off  # the closed state itself is untouched
    with pytest.raises(Rejected, match="closed as paid"):
        paid_state = case()
        paid(paid_state)
        reopened(paid_state, Reopen(previous_run_id="r", reason="x"), at)


async def test_a_written_off_claim_reopens_with_its_balance_and_history(env, open_case, worker):
    written = await open_case(invoice("REO-1", starts_at=START))
    await written.advance_to(paris(2026, 5, 5, 12))
    await written.update("payment_received", {"amount": "250", "paid_on": "2026-05-05", "reference": "V-1"})
    closed = await written.update("write_off", {"reason": "débiteur injoignable", "by": "marie"})
    assert closed.outcome == "written_off"
    await env.sleep(1)
    first_run = (await describe_execution(env.client, "invoice-REO-1")).workflow_execution_info.execution.run_id

    status = await reopen_case(
        env.client,
        "REO-1",
        worker.task_queue,
        reason="nouvelle adresse trouvée",
        by="paul",
        step="reminder-2",
        now=await env.get_current_time(),
    )
    assert (status.state, status.outcome, status.balance, [p.reference for p in status.payments]) == (
        "open",
        None,
        Decimal("1000.00"),
        ["V-1"],
    )
    assert [s.step_id for s in status.steps if s.status == "done"] == ["courtesy", "reminder-1"]
    entry = status.history[-1]
    assert (entry.event, entry.by, entry.data["previous_run_id"]) == ("case_reopened", "paul", first_run)
    # due at once, and still 3 days after the last contact (reminder-1 on Monday 4 May)
    assert (status.next_step.id, minute(status.next_step.at)) == ("reminder-2", paris(2026, 5, 7, 9))

    with pytest.raises(ActionRejected, match="case REO-1 is open: nothing to reopen"):
        await reopen_case(
            env.client, "REO-1", worker.task_queue, reason="x", by=None, step=None, now=await env.get_current_time()
        )
    later = env.client.get_workflow_handle("invoice-REO-1")
    await env.sleep(2 * 86400)
    after = await later.query("status", result_type=CaseStatus)
    assert [s.step_id for s in after.steps if s.status == "done"][-1] == "reminder-2"
    with Session(engine_for(worker.database_url)) as session:
        row = session.get(CaseRow, "invoice-REO-1")
        assert row is not None and (row.outcome, row.balance) == (None, Decimal("1000.00"))
        events = session.scalars(
            select(CaseEvent.event).where(CaseEvent.case_id == "invoice-REO-1").order_by(CaseEvent.seq)
        ).all()
    assert events.count("case_closed") == 1 and events.index("case_closed") < events.index("case_reopened")
    await later.terminate(reason="test finished")


def test_a_returned_payment_reopens_a_paid_case_owing_it_again():
    state = case()
    state.apply(PaymentReceived(amount=Decimal("1250.00"), paid_on=date(2026, 4, 20), reference="V-9"), START)
    assert state.outcome == Outcome.paid
    returned = PaymentReversed(reference="V-9", amount=Decimal("1250.00"), reason="MS02", reversed_on=date(2026, 4, 20))
    unknown = returned.model_copy(update={"reference": "V-0"})
    assert reopen_refusal(state, TODAY, reversal=unknown) == "no payment with reference 'V-0' on case PL-1"
    written = case()
    written_off(written)
    assert reopen_refusal(written, TODAY, reversal=returned) == (
        "case PL-1 closed as written_off: a returned payment reopens a paid case only"
    )
    new = reopened(state, Reopen(previous_run_id="r", reason="payment V-9 came back (MS02)", reversal=returned), START)
    assert (new.outcome, new.balance, new.total_paid) == (None, Decimal("1250.00"), Decimal("0.00"))
    events = [h.event for h in new.history]
    assert events.index("case_reopened") < events.index("payment_reversed")
