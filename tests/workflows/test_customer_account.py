"""One voice per customer, on the time-skipping server: grouped messages, holds, unallocated payments, risk."""

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.customer_voice import CustomerVoice
from activities.debtor_contact import DebtorContact
from activities.email_delivery import OutboxBackend
from activities.ledger import LedgerWriter
from relance.domain.account import ACCOUNT_ACTIONS, AccountState, MessageOutcome, OutcomeToTell
from relance.domain.activity_contract import LedgerEntry, LedgerUpdate, StepResult
from relance.domain.case_records import HistoryEntry, PaymentRecord
from relance.ledger.customer_days import claim_day
from relance.ledger.db import CustomerDay, engine_for
from relance.settings import Settings
from starter.executions import describe_execution
from starter.importer import start_case
from starter.ops import ActionRejected, UnknownCase, act_on_account
from tests.builders import invoice, minute, paris
from tests.conftest import activities_run, outbox_messages

START = paris(2026, 4, 20, 8)
STEPS = ("courtesy", "reminder-1", "reminder-2")
AMOUNTS = ["1250.00", "300.00", "4999.99", "75.00", "640.00", "18000.00"]


def account(env: Any) -> Any:
    return env.client.get_workflow_handle("customer-C-ACME")


async def account_update(env: Any, name: str, payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """As the CLI and the API send it: the account starts on the first action that needs it."""
    action = {a.name: a for a in ACCOUNT_ACTIONS}[name].model_validate(payload)
    engine = engine_for(settings.database_url)
    return await act_on_account(env.client, engine, "C-ACME", action, settings.task_queue)


def grouped_mails(settings: Any) -> list[Any]:
    found = sorted(settings.outbox_dir.glob("customer-C-ACME_batch-*.eml"))
    return [message_from_bytes(path.read_bytes(), policy=default) for path in found]


async def test_six_invoices_falling_due_together_make_one_email(open_case, worker, env):
    numbered = list(enumerate(AMOUNTS, 1))
    opened = [numbered[k] for k in (3, 1, 5, 0, 4, 2)]  # not in the invoices' order
    cases = [await open_case(invoice(f"G-{n}", amount=amount, starts_at=START)) for n, amount in opened]
    await cases[0].advance_to(paris(2026, 4, 27, 12))
    (mail,) = grouped_mails(worker)
    assert len(outbox_messages(worker)) == 1  # nothing was sent per invoice
    assert mail["Subject"] == "Rappel : 6 factures, 25\u202f264,99\xa0€ à régler"
    lines = [line for line in mail.get_content().splitlines() if line.startswith("- facture ")]
    assert lines == [  # in the same order whatever order the cases signalled in
        f"- facture G-{n} du 31 mars 2026, échéance le 30 avril 2026 : {amount}\xa0€"
        for n, amount in enumerate(["1\u202f250,00", "300,00", "4\u202f999,99", "75,00", "640,00", "18\u202f000,00"], 1)
    ]
    for case in cases:
        status = await case.status()
        (courtesy,) = status.steps
        assert (courtesy.step_id, courtesy.status, minute(courtesy.at)) == ("courtesy", "done", paris(2026, 4, 27, 9))
        assert courtesy.detail.startswith("grouped e-mail for 6 invoices (G-1, G-2, G-3, G-4, G-5, G-6)")
    # account-tells-v1: the account sent through the server (its check queries the cases), and told its six cases
    # from one local activity (no signal of its own in its history)
    assert await activities_run(env.client, "customer-C-ACME") == ["server:send_customer_messages", "local:tell_cases"]
    kinds = [
        EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") async for e in account(env).fetch_history_events()
    ]
    assert not [k for k in kinds if k.startswith(("SIGNAL_EXTERNAL", "EXTERNAL_WORKFLOW"))], kinds


async def test_an_invoice_paid_while_the_batch_gathers_is_left_out(open_case, worker):
    cases = [await open_case(invoice(f"P-{n}", amount="500.00", starts_at=START)) for n in range(1, 4)]
    # 09:00:02 on 27 April: every case has handed its courtesy step to the account, which sends at 09:00:05
    await cases[0].advance_to(datetime(2026, 4, 27, 9, 0, 2, tzinfo=START.tzinfo))
    paid = await cases[1].update("payment_received", {"amount": "500.00", "paid_on": "2026-04-27", "reference": "V"})
    assert paid.outcome == "paid"
    await cases[0].advance_to(paris(2026, 4, 27, 12))
    (mail,) = grouped_mails(worker)
    body = mail.get_content()
    assert "P-1" in body and "P-3" in body and "P-2" not in body
    assert mail["Subject"] == "Rappel : 2 factures, 1\u202f000,00\xa0€ à régler"
    skipped = (await cases[1].status()).steps[0]
    assert (skipped.status, skipped.detail) == ("skipped", "not sent: nothing left to collect (paid)")


async def test_a_customer_hold_pauses_every_case_and_release_resumes_their_timelines(open_case, worker, env):
    early = await open_case(invoice("H-1", due=date(2026, 4, 30), starts_at=START))
    late = await open_case(invoice("H-2", due=date(2026, 5, 20), starts_at=START))
    await early.advance_to(paris(2026, 4, 21, 12))
    with pytest.raises(ActionRejected) as refused:
        await account_update(env, "release", {}, worker)
    assert "the customer is not on hold" in str(refused.value)
    held = await account_update(env, "hold", {"reason": "litige global sur la livraison", "by": "sales"}, worker)
    assert held["hold"]["reason"] == "litige global sur la livraison"
    await early.advance_to(paris(2026, 5, 12, 12))
    for case in (early, late):
        status = await case.status()
        assert (status.stage, status.pause_reason) == (
            "customer_hold",
            "customer account: litige global sur la livraison",
        )
    assert [s.step_id for s in (await early.status()).steps if s.status == "done"] == []
    # a case that starts during the hold is held too
    newcomer = await open_case(invoice("H-3", due=date(2026, 6, 1), starts_at=paris(2026, 5, 12, 13)))
    await early.advance_to(paris(2026, 5, 12, 14))
    assert (await newcomer.status()).stage == "customer_hold"

    await account_update(env, "release", {"by": "sales"}, worker)
    await early.advance_to(paris(2026, 5, 13, 12))
    # due 30/04, held from 21/04 to 12/05: it resumes where it stopped. The 12 days it was late on hold do
    # not count, so reminder-1 (01/05) comes on 13/05; the courtesy note before the due date is moot.
    resumed = await early.status()
    assert [(s.step_id, s.status, minute(s.at)) for s in resumed.steps] == [
        ("courtesy", "skipped", paris(2026, 5, 12, 14)),
        ("reminder-1", "done", paris(2026, 5, 13, 9)),
    ]
    later = await late.status()  # due 20/05: its own timeline, the courtesy note on 15/05
    assert (later.next_step.id, minute(later.next_step.at)) == ("courtesy", paris(2026, 5, 15, 9))


async def test_an_unallocated_payment_is_spread_oldest_first(open_case, worker, env):
    oldest = await open_case(invoice("U-1", amount="300.00", due=date(2026, 3, 31), starts_at=START))
    middle = await open_case(invoice("U-2", amount="500.00", due=date(2026, 4, 15), starts_at=START))
    newest = await open_case(invoice("U-3", amount="900.00", due=date(2026, 4, 30), starts_at=START))
    await oldest.advance_to(paris(2026, 4, 21, 12))
    result = await account_update(
        env,
        "unallocated_payment_received",
        {"amount": "1000.00", "paid_on": "2026-04-21", "reference": "VIR-9"},
        worker,
    )
    assert [(a["invoice_id"], a["amount"]) for a in result["allocations"]] == [
        ("U-1", "300.00"),
        ("U-2", "500.00"),
        ("U-3", "200.00"),
    ]
    await oldest.advance_to(paris(2026, 4, 21, 13))
    assert [(await c.status()).balance for c in (oldest, middle, newest)] == [
        Decimal("0"),
        Decimal("0"),
        Decimal("700.00"),
    ]
    assert (await newest.status()).payments[-1].reference == "VIR-9/U-3"
    with pytest.raises(ActionRejected) as refused:
        await account_update(
            env,
            "unallocated_payment_received",
            {"amount": "10.00", "paid_on": "2026-04-21", "reference": "VIR-9"},
            worker,
        )
    assert "payment reference 'VIR-9' is already recorded for this customer" in str(refused.value)


def seed_history(url: str, customer_id: str) -> None:
    """Two invoices paid 40 days late and two broken promises: 40 + 20 points, a high risk."""
    writer = LedgerWriter(engine_for(url))
    at = paris(2026, 3, 1)
    for n, (due, paid) in enumerate([(date(2025, 10, 1), date(2025, 11, 10)), (date(2025, 12, 1), date(2026, 1, 10))]):
        case = invoice(f"OLD-{n}", due=due, customer={"id": customer_id, "name": "Risky SARL"})
        writer.write(
            LedgerUpdate(
                case_id=case.workflow_id,
                case=case,
                policy="b2b-standard@v3",
                stage="paid",
                balance=Decimal("0"),
                outcome="paid",
                opened_at=at,
                closed_at=at,
                events=[LedgerEntry(seq=0, entry=HistoryEntry(at=at, event="promise_broken", detail="broken"))],
                payments=[PaymentRecord(amount=case.amount, paid_on=paid, reference=f"R{n}", recorded_at=at)],
            )
        )


async def test_a_high_risk_customer_gets_the_firmer_policy(open_case, worker):
    seed_history(worker.database_url, "C-RISKY")
    risky = await open_case(invoice("R-1", customer={"id": "C-RISKY", "name": "Risky SARL"}, starts_at=START))
    steady = await open_case(invoice("S-1", customer={"id": "C-STEADY", "name": "Steady SA"}, starts_at=START))
    risky_status, steady_status = await risky.status(), await steady.status()
    assert (risky_status.policy, steady_status.policy) == ("b2b-high-risk@v1", "b2b-standard@v3")
    chosen = next(h.detail for h in risky_status.history if h.event == "policy_resolved")
    assert chosen.startswith("policy b2b-high-risk@v1 chosen for the case; customer risk high (score ")
    assert "pays 40.0 days late on average over 2 payments (+40)" in chosen
    assert "2 broken promise(s) to pay (+20)" in chosen


async def test_the_account_continues_as_new_and_keeps_its_answers(open_case, worker, env):
    started = await env.client.start_workflow(
        "CustomerAccount",
        args=["C-ACME", AccountState(customer_id="C-ACME", continue_as_new_after=30)],
        id="customer-C-ACME",
        task_queue=worker.task_queue,
    )
    cases = [await open_case(invoice(f"C-{n}", amount="100.00", starts_at=START)) for n in range(1, 4)]
    await cases[0].advance_to(paris(2026, 5, 12, 12))
    latest = await describe_execution(env.client, "customer-C-ACME")
    assert latest.workflow_execution_info.execution.run_id != started.result_run_id
    state = await account(env).query("account", result_type=AccountState)
    assert state.cases == {}  # since v18 cases do not report to it: it reads the ledger when it acts
    assert sorted(state.answered) == sorted(f"invoice-C-{n}:{s}" for n in (1, 2, 3) for s in STEPS)  # carried over
    assert state.batches == 3  # courtesy, reminder-1, reminder-2: one grouped e-mail each
    assert len(grouped_mails(worker)) == 3


async def test_a_grouped_message_takes_the_harshest_tone_among_its_invoices(open_case, worker):
    """26 May: G-A's final reminder (due 30/04; 25 May is Whit Monday) and G-B's first reminder (due 25/05)."""
    await open_case(invoice("G-A", amount="1250.00", due=date(2026, 4, 30), starts_at=START))
    late = await open_case(invoice("G-B", amount="300.00", due=date(2026, 5, 25), starts_at=START))
    await late.advance_to(paris(2026, 5, 26, 12))
    mails = [m for m in grouped_mails(worker) if "2 factures" in m["Subject"]]
    (mail,) = mails
    assert mail["Subject"] == "Dernier rappel avant mise en demeure : 2 factures, 1\u202f550,00\xa0€ à régler"
    body = mail.get_content()
    assert (
        "- facture G-A du 31 mars 2026, échéance le 30 avril 2026 : 1\u202f250,00\xa0€ (26\xa0jours de retard)" in body
    )
    assert "- facture G-B du 25 avril 2026, échéance le 25 mai 2026 : 300,00\xa0€ (1\xa0jour de retard)" in body
    assert "nous vous adresserons une mise en demeure par lettre recommandée" in body


async def test_an_invoice_that_reaches_its_account_after_the_days_message_left_waits_for_the_next_contact_day(
    open_case, worker
):
    """One voice per customer holds when a case arrives late (a worker restarted during a morning's starts):
    the customer had its grouped message at 09:00; an invoice of theirs whose step reaches the account at 10:00
    does not make a second e-mail that day, but goes at the next contact day's first slot."""
    first = [await open_case(invoice(f"L-{n}", amount="500.00", starts_at=START)) for n in (1, 2)]
    await first[0].advance_to(paris(2026, 4, 27, 10))
    (grouped,) = grouped_mails(worker)
    assert grouped["Subject"] == "Rappel : 2 factures, 1\u202f000,00\xa0€ à régler"
    late = await open_case(invoice("L-3", amount="500.00", starts_at=paris(2026, 4, 27, 10)))
    await late.advance_to(paris(2026, 4, 27, 18))
    assert len(outbox_messages(worker)) == 1  # the grouped e-mail only
    status = await late.status()
    assert status.steps == []
    assert status.waiting_for == "the next contact day: customer C-ACME already had an e-mail on 2026-04-27"
    assert status.next_step is not None
    assert (status.next_step.id, minute(status.next_step.at)) == ("courtesy", paris(2026, 4, 28, 9))
    await late.advance_to(paris(2026, 4, 28, 12))
    assert len(outbox_messages(worker)) == 2
    (courtesy,) = (await late.status()).steps
    assert (courtesy.step_id, courtesy.status, minute(courtesy.at)) == ("courtesy", "done", paris(2026, 4, 28, 9))


async def test_a_lone_invoice_speaks_for_itself_without_its_account(open_case, worker, env):
    """A customer with one open case gets its e-mail from the case itself: its account never starts (issue
    "Performance by design", items 1 and 2), and the customer's day is claimed in the ledger."""
    solo = {"id": "C-SOLO", "name": "Solo SARL", "email": "compta@solo.example"}
    case = await open_case(invoice("S-1", starts_at=START, customer=solo))
    status = await case.advance_to(paris(2026, 4, 27, 12))
    (courtesy,) = status.steps
    assert (courtesy.status, minute(courtesy.at)) == ("done", paris(2026, 4, 27, 9))
    assert courtesy.detail.startswith("e-mail to compta@solo.example")
    assert outbox_messages(worker) == ["invoice-S-1_courtesy.eml"]
    with pytest.raises(RPCError) as no_account:  # since v18 the account is not even told of the case
        await describe_execution(env.client, "customer-C-SOLO")
    assert no_account.value.status == RPCStatusCode.NOT_FOUND
    with Session(engine_for(worker.database_url)) as session:
        (claim,) = session.scalars(select(CustomerDay)).all()
    assert (claim.customer_id, claim.day, claim.claimed_by) == ("C-SOLO", date(2026, 4, 27), "invoice-S-1:courtesy")
    # the claim is the guard when two writers race: the day's holder wins, the same message may try again
    engine = engine_for(worker.database_url)
    assert claim_day(engine, "C-SOLO", date(2026, 4, 27), "customer-C-SOLO:batch-x") == "invoice-S-1:courtesy"
    assert claim_day(engine, "C-SOLO", date(2026, 4, 27), "invoice-S-1:courtesy") is None
    assert claim_day(engine, "C-SOLO", date(2026, 4, 28), "customer-C-SOLO:batch-x") is None


@pytest.mark.parametrize("in_batch", [3, None])
async def test_an_imports_invoices_of_one_customer_opening_minutes_apart_make_one_email(open_case, worker, in_batch):
    """Three invoices of one customer in one import, already due, whose cases open three minutes apart (an import
    of thousands): told their import brought three, the account waits for the three and sends one e-mail; not
    told, it sends the first after its 5 s gathering and the other two wait for the customer's next day."""
    cases = [
        await open_case(
            invoice(f"IMP-{n}", amount="100.00", starts_at=paris(2026, 4, 27, 9) - timedelta(minutes=3 * n),
                    customer_invoices_in_batch=in_batch)
        )
        for n in range(3)
    ]  # fmt: skip
    await cases[0].advance_to(paris(2026, 4, 27, 12))
    mails = grouped_mails(worker)
    if in_batch:
        (mail,) = mails
        assert mail["Subject"] == "Rappel : 3 factures, 300,00\xa0€ à régler"
        for case in cases:
            (courtesy,) = (await case.status()).steps
            assert (courtesy.step_id, courtesy.status) == ("courtesy", "done")
    else:
        assert mails == [] and outbox_messages(worker) == ["invoice-IMP-0_courtesy.eml"]  # the first, alone
        for case in cases[1:]:
            assert (await case.status()).waiting_for.startswith("the next contact day")


async def test_an_imports_invoices_of_one_customer_all_in_are_sent_without_the_gathering_wait(open_case, worker, env):
    """Three invoices one import brought of a customer, due as they open (at the same instant): once the account
    has the three steps, no other case of the customer can join (each case said how many were open with it), so it
    sends then rather than at the end of its 5 s gathering (account-tells-v1): no gathering timer fires."""
    customer = {"id": "C-ALLIN", "name": "Tout SAS", "email": "ap@tout.example"}
    opened = paris(2026, 4, 27, 10)
    cases = await asyncio.gather(
        *(
            open_case(invoice(f"AI-{n}", customer=customer, starts_at=opened, customer_invoices_in_batch=3))
            for n in range(3)
        )
    )
    await cases[0].advance_to(paris(2026, 4, 27, 12))
    handle = env.client.get_workflow_handle("customer-C-ALLIN")
    kinds = [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") async for e in handle.fetch_history_events()]
    assert "TIMER_FIRED" not in kinds[: kinds.index("ACTIVITY_TASK_SCHEDULED")], " ".join(kinds)
    assert await activities_run(env.client, "customer-C-ALLIN") == ["server:send_customer_messages", "local:tell_cases"]
    mails = sorted(worker.outbox_dir.glob("customer-C-ALLIN_batch-*.eml"))
    assert len(mails) == 1 and len(outbox_messages(worker)) == 1


async def test_a_lone_invoice_makes_its_own_call_task_without_its_account(open_case, env):
    """Call steps too (generation v19): a customer with one open case gets its call task from the case itself."""
    solo = {"id": "C-CALL", "name": "Appel SARL", "email": "compta@appel.example"}
    case = await open_case(invoice("CALL-1", starts_at=START, customer=solo))
    status = await case.advance_to(paris(2026, 5, 16, 12))
    (call,) = [s for s in status.steps if s.step_id == "call-1"]
    assert (call.status, call.channel, minute(call.at)) == ("done", "phone", paris(2026, 5, 15, 9))
    assert call.detail.startswith("phone task #")
    with pytest.raises(RPCError) as no_account:
        await describe_execution(env.client, "customer-C-CALL")
    assert no_account.value.status == RPCStatusCode.NOT_FOUND


async def test_invoices_of_one_customer_opening_at_the_same_instant_never_make_two_emails_a_day(open_case, worker):
    """Eight customers, each with two invoices started at the same instant: whichever way each pair decides
    (alone, or through the account), every customer gets one e-mail on the day, and no case is lost."""
    customers = [{"id": f"C-TWIN{n}", "name": f"Twin {n} SAS", "email": f"ap@twin{n}.example"} for n in range(8)]
    cases = await asyncio.gather(
        *(
            open_case(invoice(f"TW-{n}-{k}", starts_at=START, customer=customer))
            for n, customer in enumerate(customers)
            for k in (1, 2)
        )
    )
    await cases[0].advance_to(paris(2026, 4, 27, 18))
    sent = [message_from_bytes(p.read_bytes(), policy=default) for p in sorted(worker.outbox_dir.glob("*.eml"))]
    per_customer = Counter(m["To"].addresses[0].addr_spec for m in sent)
    assert per_customer == {c["email"]: 1 for c in customers}
    for case in cases:
        status = await case.status()
        done = [s for s in status.steps if s.step_id == "courtesy" and s.status == "done"]
        assert done or status.waiting_for is not None, status.invoice_id  # sent, or waiting for the next day


async def test_a_case_not_yet_due_costs_one_workflow_task_a_timer_and_no_account(worker, env):
    """Issue "Performance by design", item 2: opening chooses the policy, writes the ledger row and sets the
    search attributes in one workflow task, then a timer; the customer's account neither starts nor hears."""
    early = {"id": "C-EARLY", "name": "Early SAS", "email": "ap@early.example"}
    handle = await start_case(
        env.client, invoice("E-1", due=date(2026, 6, 30), starts_at=START, customer=early), worker.task_queue
    )
    kinds: list[str] = []
    try:
        for _ in range(200):  # read the history only (a query would add a workflow task on this server)
            kinds = [
                EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") async for e in handle.fetch_history_events()
            ]
            if "TIMER_STARTED" in kinds:
                break
            await asyncio.sleep(0.05)
    finally:
        await handle.terminate()
    kinds = kinds[: kinds.index("TIMER_STARTED") + 1]
    assert kinds.count("WORKFLOW_TASK_COMPLETED") == 1, " ".join(kinds)
    assert kinds[-2:] == ["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", "TIMER_STARTED"], kinds
    assert not [k for k in kinds if k.startswith(("ACTIVITY_", "SIGNAL_", "START_CHILD"))], kinds
    assert kinds.count("MARKER_RECORDED") == 2, kinds  # its generation, and one local activity (v19)
    with pytest.raises(RPCError) as no_account:
        await describe_execution(env.client, "customer-C-EARLY")
    assert no_account.value.status == RPCStatusCode.NOT_FOUND


async def test_a_lone_first_reminder_due_as_its_case_opens_leaves_in_its_first_workflow_task(worker, env):
    """Issue "Performance by design", item 3 (generation v20): a customer's only invoice of its import, already
    due, opens, sends its e-mail and writes the ledger in its first workflow task, with three local activities and
    nothing through the server: 11 events to its next timer, as many as bare Temporal's one-activity reminder."""
    alone = {"id": "C-HERE", "name": "Ici SAS", "email": "ap@ici.example"}
    case = invoice("H-1", starts_at=paris(2026, 4, 27, 10), customer=alone, customer_invoices_in_batch=1)
    handle = await start_case(env.client, case, worker.task_queue)
    kinds: list[str] = []
    try:
        for _ in range(200):
            kinds = [
                EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") async for e in handle.fetch_history_events()
            ]
            if "TIMER_STARTED" in kinds:
                break
            await asyncio.sleep(0.05)
        route = await activities_run(env.client, "invoice-H-1")
    finally:
        await handle.terminate()
    assert kinds[: kinds.index("TIMER_STARTED") + 1] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "MARKER_RECORDED",  # the generation
        "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",  # its TemporalChangeVersion
        "MARKER_RECORDED",
        "MARKER_RECORDED",
        "MARKER_RECORDED",
        "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",  # the case shown once, after its step
        "TIMER_STARTED",  # the next step
    ]
    assert route == ["local:open_new_case", "local:send_email_alone", "local:record_case"]
    assert outbox_messages(worker) == ["invoice-H-1_courtesy.eml"]


async def test_an_action_on_a_customer_without_open_cases_is_refused_and_starts_nothing(worker, env):
    with pytest.raises(UnknownCase) as refused:
        await act_on_account(
            env.client,
            engine_for(worker.database_url),
            "C-NOBODY",
            ACCOUNT_ACTIONS[0].model_validate({"reason": "négociation"}),
            worker.task_queue,
        )
    assert str(refused.value) == "customer C-NOBODY has no open case: there is nothing to act on"
    with pytest.raises(RPCError):
        await describe_execution(env.client, "customer-C-NOBODY")


async def test_a_payment_for_a_customer_whose_cases_all_closed_is_refused_by_its_account(open_case, worker, env):
    """The account reads the customer's open cases from the ledger when it spreads a payment: none, refused."""
    case = await open_case(invoice("Z-1", amount="100.00", starts_at=START))
    await account_update(env, "hold", {"reason": "négociation"}, worker)  # the account starts
    await case.update("payment_received", {"amount": "100.00", "paid_on": "2026-04-20", "reference": "Z"})
    await case.advance_to(paris(2026, 4, 20, 12))
    payment = {"amount": "50.00", "paid_on": "2026-04-20", "reference": "VIR-Z"}
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # sent to the account itself (the CLI and API
        await account(env).execute_update("unallocated_payment_received", payment, result_type=dict)  # ask first)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "Rejected"
    assert cause.message == "the customer has no open case to allocate the payment to"
    state = await account(env).query("account", result_type=AccountState)
    assert state.payments == [] and state.credit == 0  # nothing recorded


async def test_a_hold_set_while_cases_of_the_customer_open_reaches_every_one_once(open_case, worker, env):
    """The account records its hold, then lists the open cases; each case writes its row, then reads the hold:
    whichever comes first, every case is held, and a case told both ways records the hold once."""
    first = await open_case(invoice("RH-0", due=date(2026, 5, 30), starts_at=START))
    opening = [open_case(invoice(f"RH-{n}", due=date(2026, 5, 30), starts_at=START)) for n in range(1, 7)]
    held, *cases = await asyncio.gather(account_update(env, "hold", {"reason": "litige global"}, worker), *opening)
    assert held["hold"]["reason"] == "litige global"
    await first.advance_to(paris(2026, 4, 21, 12))
    for case in (first, *cases):
        status = await case.status()
        assert status.stage == "customer_hold", status.invoice_id
        assert [h.event for h in status.history].count("customer_hold") == 1, status.invoice_id


async def test_telling_cases_their_outcomes_names_a_case_that_has_closed_and_tells_the_others(open_case, worker, env):
    """`tell_cases` (the account's local activity since account-tells-v1): an open case takes its outcome; a case
    that closed meanwhile is named, not retried (the account records it as unreachable)."""
    listening = await open_case(invoice("TC-1", starts_at=START))
    closed = await open_case(invoice("TC-2", starts_at=START))
    await closed.handle.terminate("closed meanwhile")
    engine = engine_for(worker.database_url)
    voice = CustomerVoice(env.client, DebtorContact(env.client, worker, OutboxBackend(worker.outbox_dir), engine), "q")
    outcome = MessageOutcome(step_id="courtesy", result=StepResult(status="sent", detail="grouped e-mail"))
    tells = [OutcomeToTell(case_id=c.handle.id, outcome=outcome) for c in (listening, closed)]
    unreachable = await ActivityEnvironment().run(voice.tell_cases, tells)
    assert [u.case_id for u in unreachable] == ["invoice-TC-2"]
    assert "completed" in unreachable[0].detail.lower()  # as the server words it
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        async for e in listening.handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == ["message_outcome"]
