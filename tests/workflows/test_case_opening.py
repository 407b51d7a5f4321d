"""Opening a case in one local activity (generation v19), and a customer's only invoice of an import speaking at
once, on the time-skipping server."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode

from activities.case_opening import CaseOpener
from relance.domain.account import OPEN_NEW_CASE, CaseToOpen, OpenedCase
from relance.domain.case import CaseState
from relance.domain.case_view import CaseStatus
from relance.ledger.db import CaseEvent, engine_for
from relance.settings import Settings
from relance.worker_runtime import build_worker
from starter.executions import describe_execution
from starter.importer import start_case
from tests.builders import invoice, minute, paris
from tests.conftest import outbox_messages, terminate_all
from workflows import InvoiceCollection

START = paris(2026, 4, 20, 8)
SOLO = {"id": "C-ONLY", "name": "Only SARL", "email": "compta@only.example"}
IN_BATCH = [(None, False), (1, True), (2, False)]  # what its import said; whether it speaks at once


@pytest.mark.parametrize(("in_batch", "alone"), IN_BATCH)
async def test_a_fresh_case_speaks_at_once_only_when_its_import_says_it_is_its_customers_only_invoice(
    env: Any, worker: Settings, in_batch: int | None, alone: bool
) -> None:
    """Opened ten minutes before its first e-mail (an import's invoice already overdue): without word from its
    import it may be one of several of its customer's, so it leaves its e-mail to the account, which gathers
    them; told it is the only one, it sends the e-mail itself and its customer has no account."""
    case = invoice("B-1", starts_at=paris(2026, 4, 27, 8, 50), customer=SOLO, customer_invoices_in_batch=in_batch)
    handle = await start_case(env.client, case, worker.task_queue)
    try:
        await env.sleep(timedelta(minutes=30))
        status = await handle.query("status", await env.get_current_time(), result_type=CaseStatus)
    finally:
        await terminate_all(env.client, [handle])
    (courtesy,) = status.steps
    assert (courtesy.step_id, courtesy.status, minute(courtesy.at)) == ("courtesy", "done", paris(2026, 4, 27, 9))
    assert outbox_messages(worker) == ["invoice-B-1_courtesy.eml"]  # one e-mail, whoever sent it
    if alone:
        with pytest.raises(RPCError) as no_account:
            await describe_execution(env.client, "customer-C-ONLY")
        assert no_account.value.status == RPCStatusCode.NOT_FOUND
    else:
        assert (await describe_execution(env.client, "customer-C-ONLY")).workflow_execution_info.status == 1


class GatedOpener(CaseOpener):
    """The real opening activity, held at its door until the test lets it go: what a slow ledger does."""

    entered: asyncio.Event
    go: asyncio.Event

    @activity.defn(name=OPEN_NEW_CASE)
    async def open_new_case(self, opening: CaseToOpen) -> OpenedCase:
        GatedOpener.entered.set()
        await GatedOpener.go.wait()
        return await super().open_new_case(opening)


async def test_what_arrives_while_a_case_opens_is_taken_after_its_policy_in_the_ledgers_order(
    env: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account's hold and a refused signal reach a case whose opening activity is still running (the
    workflow task's heartbeat lets them in): the case records its policy where the activity wrote it, then
    what came; the hold counts from when the case has its policy; the ledger reads as the history does."""
    GatedOpener.entered, GatedOpener.go = asyncio.Event(), asyncio.Event()
    monkeypatch.setattr("relance.worker_runtime.CaseOpener", GatedOpener)
    case = invoice("O-1", starts_at=START, customer=SOLO)
    async with build_worker(env.client, settings):
        handle = await env.client.start_workflow(
            InvoiceCollection.run,
            case,
            id=case.workflow_id,
            task_queue=settings.task_queue,
            task_timeout=timedelta(seconds=1),  # its heartbeat delivers signals while the activity runs
        )
        try:
            await asyncio.wait_for(GatedOpener.entered.wait(), 10)
            await handle.signal("customer_hold", {"reason": "négociation globale", "by": "alice"})
            await handle.signal("no_such_action", {"x": 1})
            await asyncio.sleep(2.5)  # two heartbeats: the signals are in a workflow task of their own
            GatedOpener.go.set()
            for _ in range(200):
                state = await handle.query("case_state", result_type=CaseState)
                if state.policy is not None and state.ledger_synced == state.history_end() == 4:
                    break
                await asyncio.sleep(0.05)
            status = await handle.query("status", result_type=CaseStatus)
            events = [EventType.Name(e.event_type) async for e in handle.fetch_history_events()]
        finally:
            await terminate_all(env.client, [handle])
    kinds = [entry.event for entry in status.history]
    # the refusal is recorded as it arrives, after the policy's entry; the hold once the case has its policy
    assert kinds == ["case_opened", "policy_resolved", "rejected", "customer_hold"]
    assert status.pause_reason == "customer account: négociation globale"
    assert state.paused_since is not None and state.customer_hold is not None  # its pause counts
    assert events.count("EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED") == 2
    with Session(engine_for(settings.database_url)) as session:
        rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == "invoice-O-1").order_by(CaseEvent.seq))
        assert [(r.seq, r.event) for r in rows] == list(enumerate(kinds))
