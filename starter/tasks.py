"""Closing a task with what a person obtained: the outcome feeds the case as an ops action first, then the
task is closed. One function for `relance task done` and the HTTP API."""

from datetime import date

from sqlalchemy import Engine
from temporalio.client import Client

from relance.domain.case_view import CaseStatus
from relance.domain.notices import DebtorNotice
from relance.domain.task_outcome import NoRequest, TaskOutcome, action_for
from relance.ledger.work_queue import AGREED, TaskError, complete_task, open_task
from starter.notices import send_notice
from starter.ops import act_or_keep_refusal


async def finish_task(
    engine: Engine, client: Client, task_id: int, result: TaskOutcome, by: str, today: date, task_queue: str
) -> CaseStatus | None:
    """The case's new status when the outcome fed it, else None. A task holding a debtor's request (from their
    page) sends them the answer, with the note, by e-mail (a DebtorNotice once per task); their page shows it.

    Raises TaskError (no such task, already done, no invoice to feed, nothing to accept), pydantic's
    ValidationError (the action refuses a field), UnknownCase or ActionRejected (the case refused; the task stays
    open).
    """
    task = open_task(engine, task_id)
    try:
        action = action_for(result, by, today, task.request)
    except NoRequest as err:
        raise TaskError(f"task #{task_id}: {err}") from None
    status = None
    if action is not None:
        target = result.invoice or task.invoice_id
        if not target:
            raise TaskError(f"task #{task_id} names no invoice: give the invoice it concerns")
        status = await act_or_keep_refusal(client, engine, target, action)
    complete_task(engine, task_id, result.outcome, result.note, by)
    if task.request is not None and task.invoice_id:
        answer = DebtorNotice(
            key=f"answer-{task_id}", kind="answer", customer_id=task.customer_id, invoice_id=task.invoice_id,
            asked=str(task.request.get("action", "")), asked_on=(task.created_on or today).isoformat(),
            accepted=result.outcome in AGREED, note=result.note,
        )  # fmt: skip
        await send_notice(client, answer, task_queue)
    return status
