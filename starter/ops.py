"""Ops actions and status for one case, as the CLI and other systems send them."""

import asyncio
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.customer_voice import start_account
from relance.domain.account import AccountState, account_id
from relance.domain.actions import Action, PaymentReversed
from relance.domain.case import CaseState
from relance.domain.case_start import RunOptions
from relance.domain.case_view import CaseStatus
from relance.domain.invoice import workflow_id_for
from relance.domain.reopening import Reopen, reopen_refusal
from relance.ledger.customer_days import customer_hold, others_open, set_customer_hold
from relance.ledger.rejections import keep_rejections, rejected_account_action, rejected_action
from starter.executions import describe_execution, execution_status
from starter.importer import summary_for


class UnknownCase(Exception):
    pass


class ActionRejected(Exception):
    """The case (or account) refused the action; subclasses name the refusals callers act on."""


class CaseClosed(ActionRejected):
    """The case is closed and takes no more actions."""


class AlreadyRecorded(ActionRejected):
    """The payment reference is already on the case."""


class AlreadyReversed(ActionRejected):
    """The payment already came back."""


REFUSALS: dict[str, type[ActionRejected]] = {k.__name__: k for k in (CaseClosed, AlreadyRecorded, AlreadyReversed)}


async def _translate(client: Client, err: RPCError, invoice_id: str) -> Exception:
    """NOT_FOUND means no such case, or a closed one that can no longer take actions: say which."""
    if err.status != RPCStatusCode.NOT_FOUND:
        return err
    try:
        closed = await execution_status(client, workflow_id_for(invoice_id))
    except RPCError:
        return UnknownCase(f"no case for invoice {invoice_id} (workflow {workflow_id_for(invoice_id)} not found)")
    return CaseClosed(f"case {invoice_id} is closed ({closed.name.lower()}); it takes no more actions")


async def status(client: Client, invoice_id: str) -> CaseStatus:
    handle = client.get_workflow_handle(workflow_id_for(invoice_id))
    try:
        return await handle.query("status", result_type=CaseStatus)
    except RPCError as err:
        raise await _translate(client, err, invoice_id) from err


T = TypeVar("T")


async def _update(handle: WorkflowHandle[Any, Any], action: Action, target: str, result_type: type[T]) -> T:
    """Send an ops action as an update; a refusal comes back as ActionRejected naming what was refused."""
    try:
        payload = action.model_dump(mode="json", exclude_none=True)
        return await handle.execute_update(action.name, payload, result_type=result_type)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        kind = REFUSALS.get(cause.type or "", ActionRejected) if isinstance(cause, ApplicationError) else ActionRejected
        raise kind(f"{action.name} refused for {target}: {message}") from err


async def act(client: Client, invoice_id: str, action: Action) -> CaseStatus:
    try:
        return await _update(client.get_workflow_handle(workflow_id_for(invoice_id)), action, invoice_id, CaseStatus)
    except RPCError as err:
        raise await _translate(client, err, invoice_id) from err


async def act_on_account(
    client: Client, engine: Engine, customer_id: str, action: Action, task_queue: str
) -> dict[str, Any]:
    """A customer-level action, sent to the customer's account as an update. The account starts when first
    needed (cases no longer start it when they open): here, when the ledger lists an open case of the customer."""
    handle = client.get_workflow_handle(account_id(customer_id))
    target = f"customer {customer_id}"
    try:
        return await _update(handle, action, target, dict)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        if not await asyncio.to_thread(others_open, engine, customer_id, None):  # a count, not the list
            raise UnknownCase(f"customer {customer_id} has no open case: there is nothing to act on") from err
    await start_account(client, customer_id, task_queue)
    return await _update(handle, action, target, dict)


async def act_on_account_or_keep_refusal(
    client: Client, engine: Engine, customer_id: str, action: Action, task_queue: str
) -> dict[str, Any]:
    """`act_on_account`, and a refusal (or a customer without an open case) is written to the ledger's refused
    input before it is raised, as for a case's action."""
    try:
        return await act_on_account(client, engine, customer_id, action, task_queue)
    except (UnknownCase, ActionRejected) as exc:
        payload = action.model_dump(mode="json", exclude_none=True)
        keep_rejections(
            engine, [rejected_account_action(customer_id, action.name, payload, str(exc), action.by or "?")]
        )
        raise


async def reopen(
    client: Client,
    invoice_id: str,
    task_queue: str,
    *,
    reason: str,
    by: str | None,
    step: str | None,
    now: datetime,
    reversal: PaymentReversed | None = None,
) -> CaseStatus:
    """Start a new run of a closed case (written off, or its policy completed) that goes on from it.

    The refusals are checked here for a clear message and again by the new run, which reads the closed run's
    state from Temporal itself.
    """
    workflow_id = workflow_id_for(invoice_id)
    handle = client.get_workflow_handle(workflow_id)
    try:
        described = (await describe_execution(client, workflow_id)).workflow_execution_info
    except RPCError as err:
        raise await _translate(client, err, invoice_id) from err
    if described.status == WorkflowExecutionStatus.RUNNING:
        raise ActionRejected(f"case {invoice_id} is open: nothing to reopen")
    closed = await handle.query("case_state", result_type=CaseState)
    refusal = reopen_refusal(closed, closed.today(closed.clock.case_time(now)), step, reversal)
    if refusal is not None:
        raise ActionRejected(f"reopen refused: {refusal}")
    previous = described.execution.run_id
    options = RunOptions(reopen=Reopen(previous_run_id=previous, reason=reason, by=by, step=step, reversal=reversal))
    started = await client.start_workflow(
        "InvoiceCollection",
        args=[closed.case.model_dump(mode="json"), options.model_dump(mode="json", exclude_none=True)],
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=f"{summary_for(closed.case)} · reopened",
    )
    for _ in range(200):  # until the new run has read the closed one (or refused to)
        state = await execution_status(client, workflow_id)
        if state != WorkflowExecutionStatus.RUNNING:
            try:
                await started.result()
            except WorkflowFailureError as err:
                cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err.cause)
                raise ActionRejected(f"reopen refused by the case: {cause}") from err
            raise ActionRejected(f"reopen refused by the case: it ended {state.name.lower() if state else '?'}")
        current = await started.query("status", result_type=CaseStatus)
        if any(h.event == "case_reopened" for h in current.history):
            return current
        await asyncio.sleep(0.05)
    raise ActionRejected(f"case {invoice_id} was reopened but has not answered yet; check `relance status`")


async def reverse_payment(
    client: Client, invoice_id: str, reversal: PaymentReversed, task_queue: str, *, now: datetime
) -> CaseStatus:
    """A payment came back: the open case owes it again; a case it had closed as paid reopens owing it."""
    try:
        return await act(client, invoice_id, reversal)
    except CaseClosed:
        pass
    why = f"payment {reversal.reference} came back ({reversal.reason})"
    return await reopen(
        client, invoice_id, task_queue, reason=why, by=reversal.by, step=None, now=now, reversal=reversal
    )


async def act_or_keep_refusal(
    client: Client, engine: Engine, invoice_id: str, action: Action, *, task_queue: str | None = None
) -> CaseStatus:
    """`act`, and a refusal (or an unknown case) is written to the ledger's refused input before it is raised.
    With the task queue, a payment that came back reopens the case it had closed, as `relance reverse` and the
    bank import do (a task's outcome never is one).

    The ledger out of reach must not hide the refusal itself: that is logged, and the refusal raised."""
    try:
        if isinstance(action, PaymentReversed) and task_queue is not None:
            return await reverse_payment(client, invoice_id, action, task_queue, now=datetime.now(UTC))
        return await act(client, invoice_id, action)
    except (UnknownCase, ActionRejected) as exc:
        payload = action.model_dump(mode="json", exclude_none=True)
        keep_rejections(engine, [rejected_action(invoice_id, action.name, payload, str(exc), action.by or "?")])
        raise


async def sync_holds(client: Client, engine: Engine, task_queue: str) -> list[str]:
    """Write to the ledger the holds that running accounts keep and the ledger lacks: holds set before
    generation v18, when the account alone kept them (cases told it when they opened; now they read the ledger).
    Run once after upgrading; running it again writes nothing. Returns the customers written."""
    query = f"WorkflowType = 'CustomerAccount' AND ExecutionStatus = 'Running' AND TaskQueue = '{task_queue}'"
    written = []
    async for execution in client.list_workflows(query):
        state = await client.get_workflow_handle(execution.id).query("account", result_type=AccountState)
        if state.hold is None or await asyncio.to_thread(customer_hold, engine, state.customer_id) is not None:
            continue
        await asyncio.to_thread(set_customer_hold, engine, state.customer_id, state.hold.notice())
        written.append(state.customer_id)
    return written
