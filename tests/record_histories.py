"""Record workflow histories for the replay test: `python -m tests.record_histories TAG`.

Run it when a change to InvoiceCollection is released, and keep the old files: every history ever
recorded must still replay, which is what makes a workflow change safe for cases already running.
"""

import asyncio
import contextlib
import sys
import tempfile
import threading
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import patch

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.customer_voice import start_account
from activities.email_delivery import DeliveryFailed, OutboxBackend, OutgoingEmail
from relance.domain.actions import PaymentReversed
from relance.domain.direct_debit import DebitMandate
from relance.settings import Settings
from relance.worker_runtime import build_worker
from starter.importer import start_case
from starter.ops import reverse_payment
from tests.builders import ROOT, invoice, paris
from tests.conftest import Case, time_skipping_server
from workflows import InvoiceCollection, RunOptions

HISTORIES = Path(__file__).parent / "histories"
START = paris(2026, 4, 20, 8)


async def full_timeline(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    handle = await start_case(env.client, invoice("H-TIMELINE", starts_at=START), queue)
    case = Case(env, handle)
    await case.advance_to(paris(2026, 5, 5, 12))
    await case.update("payment_received", {"amount": "250", "paid_on": "2026-05-05", "reference": "P1"})
    await case.advance_to(paris(2026, 6, 30))
    return handle


async def arrangements(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    handle = await start_case(env.client, invoice("H-ARRANGE", starts_at=START), queue)
    case = Case(env, handle)
    await case.advance_to(paris(2026, 5, 5, 12))
    await case.update("dispute_opened", {"reason": "damaged"})
    await handle.signal("payment_received", {"amount": "-1"})
    await case.advance_to(paris(2026, 5, 8, 12))
    await case.update("dispute_resolved", {"outcome": "partially_accepted", "credited_amount": "250"})
    await case.update("promise_to_pay", {"promised_on": "2026-05-15", "amount": "300"})
    await case.advance_to(paris(2026, 5, 20, 12))
    await case.update(
        "payment_plan_agreed",
        {"installments": [{"due_on": "2026-06-01", "amount": "500"}, {"due_on": "2026-07-01", "amount": "500"}]},
    )
    await case.advance_to(paris(2026, 6, 2, 12))
    await case.update("payment_received", {"amount": "500", "paid_on": "2026-06-01", "reference": "I1"})
    await case.update("pause", {"reason": "holiday", "until": "2026-06-10"})
    await case.advance_to(paris(2026, 7, 10, 12))
    await handle.signal("payment_received", {"amount": "500", "paid_on": "2026-07-10", "reference": "I2"})
    await env.sleep(timedelta(seconds=5))
    return handle


async def continued(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    case_input = invoice("H-CONTINUED", starts_at=START)
    handle = await env.client.start_workflow(
        InvoiceCollection.run,
        args=[case_input, RunOptions(continue_as_new_after_events=20, keep_history=5)],
        id=case_input.workflow_id,
        task_queue=queue,
    )
    for n in range(12):
        await handle.signal("payment_received", {"amount": "1", "paid_on": "2026-04-20", "reference": f"R{n}"})
    await Case(env, handle).advance_to(paris(2026, 5, 12, 12))
    return handle


async def legal(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """Formal notice, a bounced e-mail, proof of delivery, dossier, court outcomes, payment under the order."""
    handle = await start_case(env.client, invoice("H-LEGAL", starts_at=START), queue)
    case = Case(env, handle)
    await case.advance_to(paris(2026, 5, 12, 12))
    await case.update("email_bounced", {"reason": "mailbox full"})
    await case.advance_to(paris(2026, 6, 8, 12))
    await case.update("registered_letter_delivered", {"tracking_number": "1A", "delivered_on": "2026-06-06"})
    await case.advance_to(paris(2026, 6, 26, 12))
    await case.update("court_order_issued", {"issued_on": "2026-06-25", "reference": "IP-1"})
    await case.update("order_served", {"served_on": "2026-06-26"})
    await case.update("judgment_paid", {"amount": "1300", "paid_on": "2026-06-26", "reference": "CDJ-1"})
    await env.sleep(timedelta(seconds=5))
    return handle


async def grouped(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """Three invoices of one customer due together, a hold and its release, a payment naming no invoice;
    the history kept is the customer account's."""
    customer = {"id": "C-GROUP", "name": "Group SA"}
    cases = [
        await start_case(env.client, invoice(f"H-G{n}", customer=customer, starts_at=START), queue) for n in (1, 2, 3)
    ]
    await Case(env, cases[0]).advance_to(paris(2026, 4, 27, 12))
    account = env.client.get_workflow_handle("customer-C-GROUP")
    await account.execute_update("hold", {"reason": "négociation", "by": "ops"}, result_type=dict)  # passed on
    await Case(env, cases[0]).advance_to(paris(2026, 5, 6, 12))
    await account.execute_update("release", {}, result_type=dict)
    payment = {"amount": "2000.00", "paid_on": "2026-05-06", "reference": "VIR-G"}
    await account.execute_update("unallocated_payment_received", payment, result_type=dict)
    await Case(env, cases[0]).advance_to(paris(2026, 5, 12, 12))
    return account


async def edge(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """What other systems send: a one-argument start, signals with no, two or bad arguments, an unknown one."""
    case_input = invoice("H-EDGE", starts_at=START)
    handle = await env.client.start_workflow(
        "InvoiceCollection", case_input.model_dump(mode="json"), id=case_input.workflow_id, task_queue=queue
    )
    case = Case(env, handle)
    await case.settled()
    await handle.signal("write_off")
    await handle.signal("payment_received", args=[{"amount": "1.00"}, {"amount": "2.00"}])
    await handle.signal("promise_to_pay", {"promised_on": "9999-12-31"})
    await handle.signal("frobnicate", {"x": 1})
    await case.update("pause", {"reason": "appel prévu"})
    await handle.signal("resume")
    await case.advance_to(paris(2026, 5, 5, 12))
    await case.update("payment_received", {"amount": "1250.00", "paid_on": "2026-05-05", "reference": "P-EDGE"})
    await env.sleep(timedelta(seconds=5))
    return handle


async def refused(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """A start that breaks the contract fails at once, and its refusal is written to the ledger."""
    bad = {**invoice("H-REFUSED", starts_at=START).model_dump(mode="json"), "due_date": "2026-01-01"}
    handle = await env.client.start_workflow("InvoiceCollection", bad, id="invoice-H-REFUSED", task_queue=queue)
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    return handle


async def represented(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """A case paid by direct debit; the debit comes back (AM04) on a known mandate, reopening the case, which
    presents it again (pain.008), waits for it, then resumes the chase. The history kept is the reopened run's."""
    handle = await start_case(env.client, invoice("H-DEBIT", starts_at=START), queue)
    case = Case(env, handle)
    await case.update("payment_received", {"amount": "1250.00", "paid_on": "2026-04-20", "reference": "SDD-H"})
    await case.advance_to(paris(2026, 5, 6, 12))
    mandate = DebitMandate(umr="MANDAT-H-1", signed_on=date(2025, 1, 10), iban="FR7630006000011234567890189",
                           debtor_name="ACME SAS")  # fmt: skip
    back = PaymentReversed(reference="SDD-H", amount=Decimal("1250.00"), reason="AM04", reversed_on=date(2026, 5, 6),
                           fee=Decimal("7.50"), mandate=mandate, by="bank")  # fmt: skip
    await reverse_payment(env.client, "H-DEBIT", back, queue, now=paris(2026, 5, 6, 12))
    reopened = env.client.get_workflow_handle(handle.id)  # the latest run: the reopened case
    await Case(env, reopened).advance_to(paris(2026, 5, 20, 12))
    return reopened


async def raced(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """A payment comes back while reminder-1's e-mail is in the provider's hands: the escalation it asks for
    stands when the step completes (held by blocking the outbox until the return has landed)."""
    held, released = threading.Event(), threading.Event()
    send = OutboxBackend.send

    def holding(self: OutboxBackend, email: Any) -> str:
        held.set()
        released.wait(30)
        return send(self, email)

    handle = await start_case(env.client, invoice("H-RACE", starts_at=START), queue)
    case = Case(env, handle)
    await case.update("payment_received", {"amount": "100.00", "paid_on": "2026-04-20", "reference": "P-R"})
    await case.advance_to(paris(2026, 4, 28, 12))
    OutboxBackend.send = holding  # type: ignore[method-assign]
    try:
        await case.advance_to(paris(2026, 5, 4, 9))
        for _ in range(30):
            if held.is_set():
                break
            await env.sleep(timedelta(seconds=1))
        back = {"reference": "P-R", "amount": "100.00", "reason": "AM04", "reversed_on": "2026-05-04"}
        await case.update("payment_reversed", back)
        released.set()
        for _ in range(100):
            if any(h.event == "moved_during_step" for h in (await case.status()).history):
                break
            await asyncio.sleep(0.1)
    finally:
        released.set()
        OutboxBackend.send = send  # type: ignore[method-assign]
    await case.advance_to(paris(2026, 5, 8, 12))
    return handle


async def _arrives_late(env: WorkflowEnvironment, queue: str, customer_id: str) -> tuple[Case, str]:
    """Two invoices of a customer get their grouped e-mail at 09:00; a third, started at 10:00 the same day,
    waits for the next contact day (contact-day-v1) and sends then."""
    customer = {"id": customer_id, "name": "Late SA"}
    first = [
        await start_case(env.client, invoice(f"{customer_id}-{n}", customer=customer, starts_at=START), queue)
        for n in (1, 2)
    ]
    await Case(env, first[0]).advance_to(paris(2026, 4, 27, 10))
    late = Case(
        env,
        await start_case(
            env.client, invoice(f"{customer_id}-3", customer=customer, starts_at=paris(2026, 4, 27, 10)), queue
        ),
    )
    await late.advance_to(paris(2026, 4, 28, 12))
    return late, f"customer-{customer_id}"


async def late(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """The case that arrived late (see `_arrives_late`)."""
    case, _account = await _arrives_late(env, queue, "C-LATE")
    return case.handle


async def late_account(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """The account that held the late case's e-mail for a day (see `_arrives_late`)."""
    _case, account = await _arrives_late(env, queue, "C-LATE-ACCOUNT")
    return env.client.get_workflow_handle(account)


async def held_newcomer(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """A case that opens while its customer is held reads the hold from the ledger and holds itself (its
    account, started by the operator's hold, is not told of it: quiet-open-v1); released, it chases."""
    customer = {"id": "C-HELD", "name": "Held SAS"}
    first = Case(env, await start_case(env.client, invoice("HN-1", customer=customer, starts_at=START), queue))
    await first.advance_to(paris(2026, 4, 21, 12))
    await start_account(env.client, "C-HELD", queue)  # as `relance account hold` starts it
    account = env.client.get_workflow_handle("customer-C-HELD")
    await account.execute_update("hold", {"reason": "négociation", "by": "ops"}, result_type=dict)
    newcomer = invoice("HN-2", customer=customer, starts_at=paris(2026, 4, 22, 10))
    case = Case(env, await start_case(env.client, newcomer, queue))
    await case.advance_to(paris(2026, 4, 23, 12))
    await account.execute_update("release", {"by": "ops"}, result_type=dict)
    await case.advance_to(paris(2026, 5, 12, 12))
    return case.handle


async def fresh_alone(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """An overdue invoice imported ten minutes before its first e-mail, its import's only one of its customer
    (batch-alone-v1): it sends the e-mail itself, then its reminders, and no account starts."""
    only = invoice(
        "H-FRESH", customer={"id": "C-FRESH"}, starts_at=paris(2026, 4, 27, 8, 50), customer_invoices_in_batch=1
    )
    case = Case(env, await start_case(env.client, only, queue))
    await case.advance_to(paris(2026, 5, 12, 12))
    return case.handle


async def import_account(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """The account of three invoices one import brought of a customer, their cases opened three minutes apart:
    it waits for the three (gather-import-v1) and sends one e-mail."""
    customer = {"id": "C-IMPORT"}
    for n in range(3):
        opened = paris(2026, 4, 27, 9) - timedelta(minutes=3 * n)
        only = invoice(f"H-IMP-{n}", customer=customer, starts_at=opened, customer_invoices_in_batch=3)
        await Case(env, await start_case(env.client, only, queue)).settled()
    await Case(env, env.client.get_workflow_handle("invoice-H-IMP-0")).advance_to(paris(2026, 4, 27, 12))
    return env.client.get_workflow_handle("customer-C-IMPORT")


async def failed_here(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """A customer's only invoice of its import, due as it opens: its e-mail, tried in its first workflow task
    (send-here-v1), fails once (the provider away), goes through the server and leaves there."""
    only = invoice("H-HERE", customer={"id": "C-HERE"}, starts_at=paris(2026, 4, 27, 10), customer_invoices_in_batch=1)
    send = OutboxBackend.send
    failed: list[str] = []

    def away_once(backend: OutboxBackend, email: OutgoingEmail) -> str:
        if email.idempotency_key == "invoice-H-HERE:courtesy" and not failed:
            failed.append(email.idempotency_key)
            raise DeliveryFailed("the provider is away (recorded scenario)")
        return send(backend, email)

    with patch.object(OutboxBackend, "send", away_once):
        case = Case(env, await start_case(env.client, only, queue))
        await case.advance_to(paris(2026, 4, 27, 12))
    assert failed, "the provider never failed: the scenario recorded nothing of the fallback"
    await case.advance_to(paris(2026, 5, 12, 12))
    return case.handle


async def all_in(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """The account of three invoices one import brought of a customer, opened at the same instant: it sends once it
    has the three steps, before its gathering ends (account-tells-v1)."""
    customer = {"id": "C-ALLIN"}
    opened = paris(2026, 4, 27, 10)
    handles = await asyncio.gather(
        *(
            start_case(env.client, invoice(f"H-ALL-{n}", customer=customer, starts_at=opened,
                                           customer_invoices_in_batch=3), queue)
            for n in range(3)
        )
    )  # fmt: skip
    await Case(env, handles[0]).advance_to(paris(2026, 4, 27, 12))
    return env.client.get_workflow_handle("customer-C-ALLIN")


SCENARIOS = (
    full_timeline,
    arrangements,
    continued,
    legal,
    grouped,
    edge,
    refused,
    represented,
    raced,
    late,
    late_account,
    held_newcomer,
    fresh_alone,
    import_account,
    failed_here,
    all_in,
)


async def main(tag: str) -> None:
    HISTORIES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            database_url=f"sqlite:///{scratch}/r.db",
            outbox_dir=Path(scratch) / "outbox",
            policy_dir=ROOT / "policies",
            task_queue=f"record-{uuid.uuid4().hex[:6]}",
            documents_dir=Path(scratch) / "documents",
            letter_outbox_dir=Path(scratch) / "letters",
            rates_file=ROOT / "rates" / "france.yaml",
            demo_mode=True,
            sepa_creditor_id="FR12ZZZ123456",
            creditor_iban="FR7630004000031234567890143",
            sepa_dir=Path(scratch) / "sepa",
        )
        async with (
            time_skipping_server() as env,
            build_worker(env.client, settings),
        ):
            for scenario in SCENARIOS:
                handle = await scenario(env, settings.task_queue)
                first = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
                target = HISTORIES / f"{scenario.__name__}-{tag}.json"
                target.write_text((await first.fetch_history()).to_json(), encoding="utf-8")
                print(f"recorded {target}")
                if scenario is continued:  # the run it continued into starts from the carried state
                    target = HISTORIES / f"continued_run-{tag}.json"
                    second = await env.client.get_workflow_handle(handle.id).fetch_history()
                    target.write_text(second.to_json(), encoding="utf-8")
                    print(f"recorded {target}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.record_histories TAG   (e.g. v3-what-changed)")
    asyncio.run(main(sys.argv[1]))
