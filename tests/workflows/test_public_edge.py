"""The public edge on a real server: starts from any client, and inputs that used to wedge a case.

Every input listed in the public-edge issue is sent here the way another system would send it, and
each test checks the refusal it gets, that the case goes on unchanged, and that no workflow task of
the case ever failed (a failing task is retried forever: the case would be wedged).
"""

import asyncio
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError

from activities.customer_voice import start_account
from relance.domain.account import MessageDue
from relance.domain.activity_contract import step_request
from relance.domain.case import MAX_REFUSALS_RECORDED
from relance.domain.case_view import CaseSeen, CaseStatus
from relance.domain.rules import OPS_ACTIONS
from relance.ledger.db import RejectedInput, engine_for
from relance.settings import Settings
from relance.worker_runtime import build_worker
from tests.builders import case as case_state
from tests.builders import invoice, paris
from tests.conftest import Case, outbox_messages, task_failures, terminate_all

START = paris(2026, 4, 20, 8)
DIGITS = 'write digits with an optional "." and up to 4 decimals'


def case_json(invoice_id: str = "P-1", **changes: Any) -> dict[str, Any]:
    data = invoice(invoice_id, starts_at=START).model_dump(mode="json", exclude_none=True)
    data.update(changes)
    return data


def refused_starts(settings: Settings) -> list[tuple[str | None, str]]:
    with Session(engine_for(settings.database_url)) as session:
        rows = session.scalars(select(RejectedInput).where(RejectedInput.source == "workflow_start")).all()
        return [(row.invoice_id, row.reason) for row in rows]


async def refusal_of(client: Client, workflow_id: str, *args: Any, queue: str) -> str:
    """Start InvoiceCollection with these raw arguments; the case must fail at once with InvalidCase."""
    handle = await client.start_workflow("InvoiceCollection", args=list(args), id=workflow_id, task_queue=queue)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidCase" and cause.non_retryable, cause
    assert await task_failures(client, workflow_id) == 0
    return cause.message


async def test_a_one_argument_start_runs_whatever_the_clients_converter(env, worker):
    """The default converter (another team's Python client) and the pydantic one both send the case JSON."""
    plain = await Client.connect(env.client.service_client.config.target_host, namespace=env.client.namespace)
    handles = []
    for client, invoice_id in ((plain, "P-PLAIN"), (env.client, "P-PYDANTIC")):
        handle = await client.start_workflow(
            "InvoiceCollection", case_json(invoice_id), id=f"invoice-{invoice_id}", task_queue=worker.task_queue
        )
        handles.append(env.client.get_workflow_handle(handle.id))
    try:
        for handle in handles:
            case = Case(env, handle)
            await case.settled()
            status = await case.status()
            assert (status.policy, status.state, status.balance) == ("b2b-standard@v3", "open", 1250)
            assert await task_failures(env.client, handle.id) == 0
    finally:
        await terminate_all(env.client, handles)


MALFORMED_STARTS = [
    ("P-DUE", [case_json("P-DUE", due_date="2026-03-01")], "due_date 2026-03-01 is before issue_date 2026-03-31"),
    ("P-FLOAT", [case_json("P-FLOAT", amount=1250.5)], "amount: amounts are decimal strings such as"),
    ("P-HUGE", [case_json("P-HUGE", amount="1e15")], "amount: '1e15' is not an amount"),
    ("P-BIG", [case_json("P-BIG", amount="100000000000000000000")], "is not an amount"),
    ("P-9999", [case_json("P-9999", due_date="9999-12-31")], "due_date: 9999-12-31 is outside the accepted range"),
    ("P-LONG", [case_json("P-LONG", customer={**case_json()["customer"], "id": "C" * 5000})], "customer.id: String"),
    ("P-EXTRA", [case_json("P-EXTRA", carried={})], "carried: Extra inputs are not permitted"),
    ("P-LIST", [[case_json("P-LIST")]], "the case must be a JSON object, got a list"),
    ("P-NONE", [], "no case given: start InvoiceCollection with one argument, the case JSON"),
    ("P-THREE", [case_json("P-THREE"), None, None], "3 arguments given"),
    ("P-CARRY", [case_json("P-CARRY"), {"carried": {"x": 1}}], "carried"),
    ("P-XXX", [case_json("P-XXX", currency="XXX")], "currency: unknown currency 'XXX'"),
    ("P-NOPOLICY", [case_json("P-NOPOLICY", policy="nope")], "policy 'nope' does not exist"),
]


async def test_a_malformed_start_fails_at_once_naming_what_is_wrong(env, worker):
    for invoice_id, args, reason in MALFORMED_STARTS:
        message = await refusal_of(env.client, f"invoice-{invoice_id}", *args, queue=worker.task_queue)
        assert message.startswith("case refused: ") and reason in message, (invoice_id, message)
    wrong_id = await refusal_of(env.client, "payment-42", case_json("P-ID"), queue=worker.task_queue)
    assert wrong_id == "case refused: workflow id 'payment-42' must be 'invoice-P-ID' (invoice-<invoice_id>)"
    kept = refused_starts(worker)
    assert len(kept) == len(MALFORMED_STARTS) + 1
    assert ("P-DUE", "due_date 2026-03-01 is before issue_date 2026-03-31") in kept
    assert all(len(reason) <= 1001 for _, reason in kept)


async def test_a_demo_clock_is_refused_by_a_production_worker(env, settings):
    production = settings.model_copy(update={"demo_mode": False})
    async with build_worker(env.client, production):
        message = await refusal_of(env.client, "invoice-P-CLOCK", case_json("P-CLOCK"), queue=settings.task_queue)
        plain = {k: v for k, v in case_json("P-REAL").items() if k != "clock"}
        handle = await env.client.start_workflow(
            "InvoiceCollection", plain, id="invoice-P-REAL", task_queue=settings.task_queue
        )
        case = Case(env, handle)
        await case.settled()
        await terminate_all(env.client, [handle])
    assert message.startswith("case refused: clock: a demo clock is refused on this worker (start the worker with")
    assert [invoice_id for invoice_id, _ in refused_starts(production)] == ["P-CLOCK"]


async def history_entries(case: Case) -> list[tuple[str, str]]:
    return [(h.event, h.detail) for h in (await case.status()).history]


async def test_signals_with_a_missing_extra_or_malformed_argument_are_refused_and_the_case_goes_on(env, open_case):
    case = await open_case(invoice("P-SIG", starts_at=START))
    handle = case.handle
    await case.update("pause", {"reason": "négociation"})
    before = len((await case.status()).history)
    await handle.signal("write_off")  # no argument: write_off needs a reason
    await handle.signal("payment_received", args=[{"amount": "10.00"}, {"amount": "20.00"}])
    await handle.signal("payment_received", "ten euros")
    await handle.signal("payment_received", {"amount": "1E+400", "paid_on": "2026-04-20", "reference": "R1"})
    await handle.signal(
        "payment_received", {"amount": "100000000000000000000", "paid_on": "2026-04-20", "reference": "R2"}
    )
    await handle.signal("promise_to_pay", {"promised_on": "9999-12-31"})
    await handle.signal("frobnicate", {"x": 1})
    await handle.signal("customer_hold", {})
    await handle.signal("message_outcome", {"step_id": 3})
    await handle.signal("resume")  # no argument: resume takes none, and is applied
    status = await settle(case)
    refusals = [h.detail for h in status.history[before:] if h.event == "rejected"]
    assert sorted(refusals) == sorted(
        [
            "write_off rejected: reason: Field required",
            "payment_received rejected: expects one JSON object, got 2 arguments",
            "payment_received rejected: the payload must be a JSON object, got a string",
            f"payment_received rejected: amount: '1E+400' is not an amount: {DIGITS}",
            f"payment_received rejected: amount: '100000000000000000000' is not an amount: {DIGITS}",
            "promise_to_pay rejected: promised_on: 9999-12-31 is outside the accepted range 1990-01-01 to 2100-12-31",
            "frobnicate rejected: unknown signal; known actions: " + ", ".join(a.name for a in OPS_ACTIONS),
            "customer_hold rejected: reason: Field required",
            "message_outcome rejected: step_id: Input should be a valid string; result: Field required",
        ]
    )
    assert (status.state, status.balance, status.total_paid, status.refused_signals) == ("open", 1250, 0, 9)
    assert status.history[-1].event == "resumed"
    assert await task_failures(env.client, handle.id) == 0


async def settle(case: Case) -> CaseStatus:
    """Let the case take what was sent (signals are applied by its next workflow task)."""
    for _ in range(100):
        status = await case.status()
        if status.history[-1].event == "resumed":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("the case never took the last signal")


async def test_updates_refuse_bad_arguments_and_dates_or_amounts_out_of_range(env, open_case):
    case = await open_case(invoice("P-UPD", starts_at=START))
    handle = case.handle
    refusals = {
        "write_off (no argument)": ([], "write_off", "reason: Field required"),
        "pause (two arguments)": (
            [{"reason": "a"}, {"reason": "b"}],
            "pause",
            "expects one JSON object, got 2 arguments",
        ),
        "promise in 9999": (
            [{"promised_on": "9999-12-31"}],
            "promise_to_pay",
            "promised_on: 9999-12-31 is outside the accepted range 1990-01-01 to 2100-12-31",
        ),
        "installment in 9999": (
            [
                {
                    "installments": [
                        {"due_on": "2026-05-01", "amount": "250.00"},
                        {"due_on": "9999-01-01", "amount": "1000.00"},
                    ]
                }
            ],
            "payment_plan_agreed",
            "installments.1.due_on: 9999-01-01 is outside the accepted range",
        ),
        "payment 1E+400": (
            [{"amount": "1E+400", "paid_on": "2026-04-20", "reference": "R"}],
            "payment_received",
            "amount: '1E+400' is not an amount",
        ),
        "payment 1e20 as a JSON number": (
            [{"amount": 1e20, "paid_on": "2026-04-20", "reference": "R"}],
            "payment_received",
            'amount: amounts are decimal strings such as "1250.00", not the JSON number 1e+20',
        ),
        "a name of 100 KB": (
            [{"reason": "x" * 100_000}],
            "dispute_opened",
            "reason: String should have at most 1000 characters",
        ),
        "an ANSI escape in a reference": (
            [{"amount": "1.00", "paid_on": "2026-04-20", "reference": "\x1b[2J"}],
            "payment_received",
            "reference: contains the control character U+001B at position 1",
        ),
        "an unknown action": ([{}], "frobnicate", "unknown action 'frobnicate'; known: agency_update, contact_updated"),
    }
    for label, (args, name, reason) in refusals.items():
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(name, args=args, result_type=CaseStatus)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and reason in cause.message, (label, cause)
    status = await case.status()
    assert (status.state, status.balance, status.refused_signals, status.history[-1].event) == (
        "open",
        1250,
        0,
        "policy_resolved",
    )
    assert await task_failures(env.client, handle.id) == 0


async def test_queries_refuse_bad_arguments_with_a_message(env, open_case):
    case = await open_case(invoice("P-QRY", starts_at=START))
    for args, message in (
        (["yesterday"], "at: Input should be a valid datetime or date, input is too short"),
        (["2026-04-20T10:00:00"], "at: Input should have timezone info"),
        ([None, None, None], "status takes at most one argument, the caller's time; got 3"),
    ):
        with pytest.raises(WorkflowQueryFailedError, match=message):
            await case.handle.query("status", args=args, result_type=CaseStatus)
    with pytest.raises(WorkflowQueryFailedError, match="seen takes no argument; got 1"):
        await case.handle.query("seen", "now", result_type=CaseSeen)
    seen = await case.handle.query("status", "2026-04-20T10:00:00+00:00", result_type=CaseStatus)
    assert seen.invoice_id == "P-QRY"
    assert await task_failures(env.client, case.handle.id) == 0


async def test_a_flood_of_large_refused_signals_cannot_bloat_the_case(env, open_case):
    """Thirty 100 KB refusals used to push the case's history past what a workflow task can carry."""
    case = await open_case(invoice("P-FLOOD", starts_at=START))
    big = {"amount": "x", "paid_on": "2026-04-20", "reference": "y" * 100_000}
    for _ in range(30):
        await case.handle.signal("payment_received", big)
    for n in range(MAX_REFUSALS_RECORDED + 20 - 30):
        await case.handle.signal("dispute_opened", {"reason": ""} if n % 2 else {})
    for _ in range(200):
        status = await case.status()
        if status.refused_signals == MAX_REFUSALS_RECORDED + 20:
            break
        await asyncio.sleep(0.05)
    refused = [h for h in status.history if h.event == "rejected"]
    assert (status.refused_signals, len(refused)) == (MAX_REFUSALS_RECORDED + 20, MAX_REFUSALS_RECORDED)
    assert status.history[-1].detail == (
        f"more than {MAX_REFUSALS_RECORDED} signals refused: further refusals are counted, not recorded"
    )
    assert max(len(json.dumps(h.data)) for h in refused) < 600
    assert len(status.model_dump_json()) < 200_000
    paid = await case.update("payment_received", {"amount": "1250.00", "paid_on": "2026-04-20", "reference": "OK"})
    assert paid.outcome == "paid"
    assert await task_failures(env.client, case.handle.id) == 0


def due_with(**bad: object) -> dict[str, Any]:
    """A message step as a case hands it to its account, with the fields `bad` sets."""
    request = step_request(case_state(), "invoice-P-ACC", "courtesy", "pre_due", START)
    return MessageDue(case_id="invoice-P-ACC", channel="email", request=request).model_dump(mode="json") | bad


async def test_the_customer_account_refuses_bad_input_without_failing_a_task(env, open_case, worker):
    case = await open_case(invoice("P-ACC", starts_at=START, customer={"id": "C-EDGE"}))
    await start_account(env.client, "C-EDGE", worker.task_queue)  # as an operator's first action starts it
    account: WorkflowHandle[Any, Any] = env.client.get_workflow_handle("customer-C-EDGE")
    for args, name in (
        ([], "hold"),
        ([{"reason": "x"}, {}], "exclude"),
        ([{"reason": "x", "until": "9999-01-01"}], "hold"),
    ):
        with pytest.raises(WorkflowUpdateFailedError):
            await account.execute_update(name, args=args, result_type=dict)
    for name, args in (
        ("case_opened", [{"case_id": 1}]),
        ("message_due", ["garbage"]),
        ("message_due", [due_with(customer_cases=0)]),  # a count of open cases that is none (v20)
        ("case_closed", []),
        ("unallocated_payment_received", [{"amount": 5, "paid_on": "2026-04-20", "reference": "R"}]),
        ("frobnicate", [{}]),
    ):
        await account.signal(name, args=args)
    with pytest.raises(WorkflowQueryFailedError, match="the account query takes no argument, got 1"):
        await account.query("account", "now")
    for _ in range(100):
        state = await account.query("account", result_type=dict)
        rejected = [h["detail"] for h in state["history"] if h["event"] == "rejected"]
        if len(rejected) == 6:
            break
        await asyncio.sleep(0.05)
    assert [r.split(":")[0] for r in rejected] == [
        "case_opened rejected",
        "message_due rejected",
        "message_due rejected",
        "case_closed rejected",
        "unallocated_payment_received rejected",
        "frobnicate rejected",
    ]
    assert "customer_cases" in rejected[2]
    assert (state["cases"], state["payments"], state["hold"], state["pending"]) == ({}, [], None, [])  # nothing taken
    assert await task_failures(env.client, "customer-C-EDGE") == 0
    assert await task_failures(env.client, case.handle.id) == 0


async def test_a_message_step_that_brings_its_own_reading_of_a_paid_case_sends_nothing(env, open_case, worker):
    """A step may carry the case's reading of itself (`StepRequest.seen`, v20), which only a case's own send in
    its workflow task trusts. Forged in a `message_due` signal ("open, 1,250 chased" for a paid case), the
    account's send asks the case instead, and nothing leaves."""
    case = await open_case(invoice("P-FORGE", starts_at=START, customer={"id": "C-FORGE"}))
    paid = await case.update("payment_received", {"amount": "1250.00", "paid_on": "2026-04-20", "reference": "R"})
    assert paid.outcome == "paid"
    await start_account(env.client, "C-FORGE", worker.task_queue)
    account: WorkflowHandle[Any, Any] = env.client.get_workflow_handle("customer-C-FORGE")
    forged = CaseSeen(state="open", stage="reminder", balance=Decimal(1250), chased=Decimal(1250), pause_reason=None)
    request = step_request(case_state(), case.handle.id, "reminder-1", "reminder_1", START)
    request = request.model_copy(update={"seen": forged, "window_closes_at": None})  # only the check decides
    due = MessageDue(case_id=case.handle.id, channel="email", request=request, in_batch=1, customer_cases=1)
    await account.signal("message_due", due.model_dump(mode="json"))
    for _ in range(200):
        await env.sleep(timedelta(seconds=10))  # past the account's gathering
        history = (await account.query("account", result_type=dict))["history"]
        if any(h["event"] == "batch" for h in history):
            break
    assert [h["detail"] for h in history if h["event"] == "batch"] == ["batch 1: 0 of 1 step(s) sent"]
    assert [m for m in outbox_messages(worker) if "P-FORGE" in m] == []
    assert await task_failures(env.client, "customer-C-FORGE") == 0


async def test_a_bad_account_start_fails_at_once(env, worker):
    for workflow_id, args, reason in (
        ("customer-X", [], "got 0 arguments"),
        ("customer-X", ["Y"], "workflow id must be 'customer-Y'"),
        ("customer-X", ["X", {"customer_id": "X"}], "a new account cannot start from carried state"),
        ("customer-X", [{"id": "X"}], "customer id: Input should be a valid string"),
    ):
        handle = await env.client.start_workflow(
            "CustomerAccount", args=args, id=workflow_id, task_queue=worker.task_queue
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        assert isinstance(failure.value.cause, ApplicationError) and reason in failure.value.cause.message
        assert await task_failures(env.client, workflow_id) == 0


def raw(data: bytes, encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding}, data=data)


async def test_a_payload_that_is_not_json_is_refused_at_start_and_never_fails_a_task(env, worker):
    """Bytes under a JSON encoding, or a document past the parser's nesting limit, as another SDK may send."""
    bad_payloads = {
        "invoice-RAW-1": raw(b"{not json"),
        "invoice-RAW-2": raw(b"[" * 200_000 + b"]" * 200_000),
        "invoice-RAW-3": raw(b"\x00\x01", encoding=b"json/protobuf"),
    }
    for workflow_id, payload in bad_payloads.items():
        await env.client.workflow_service.start_workflow_execution(
            StartWorkflowExecutionRequest(
                namespace=env.client.namespace,
                workflow_id=workflow_id,
                workflow_type=WorkflowType(name="InvoiceCollection"),
                task_queue=TaskQueue(name=worker.task_queue),
                input=Payloads(payloads=[payload]),
                request_id=str(uuid.uuid4()),
            )
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await env.client.get_workflow_handle(workflow_id).result()
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "InvalidCase", cause
        assert cause.message.startswith("case refused: undecodable input: ")
        assert await task_failures(env.client, workflow_id) == 0
    # each refusal is kept in the ledger like any refused start, with what the bytes began with
    kept = refused_starts(worker)
    assert len(kept) == 3 and all(reason.startswith("undecodable input: ") for _, reason in kept), kept


async def test_a_signal_that_is_not_json_is_recorded_as_refused_and_the_case_goes_on(env, open_case):
    case = await open_case(invoice("P-RAWSIG", starts_at=START))
    await env.client.workflow_service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=env.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=case.handle.id),
            signal_name="payment_received",
            input=Payloads(payloads=[raw(b"{not json")]),
            request_id=str(uuid.uuid4()),
        )
    )
    paid = await case.update("payment_received", {"amount": "1250.00", "paid_on": "2026-04-20", "reference": "OK"})
    assert (paid.outcome, paid.total_paid) == ("paid", 1250)
    (refused,) = [h for h in paid.history if h.event == "rejected"]
    assert refused.detail.startswith("payment_received rejected: undecodable input: "), refused.detail
    assert await task_failures(env.client, case.handle.id) == 0
