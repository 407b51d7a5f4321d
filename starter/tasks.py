"""Closing a task with what a person obtained: the outcome feeds the case as an ops action first, then the
task is closed. One function for `relance task done` and the HTTP API."""

from datetime import date

from sqlalchemy import Engine
from temporalio.client import Client

from relance.domain.case_view import CaseStatus
from relance.domain.task_outcome import TaskOutcome, action_for
from relance.ledger.work_queue import TaskError, complete_task, open_task
from starter.ops import act_or_keep_refusal


async def finish_task(
    engine: Engine, client: Client, task_id: int, result: TaskOutcome, by: str, today: date
) -> CaseStatus | None:
    """The case's new status when the outcome fed it, else None.

    Raises TaskError (no such task, already done, no invoice to feed), pydantic's ValidationError (the action
    refuses a field), UnknownCase or ActionRejected (the case refused; the task stays open).
    """
    task = open_task(engine, task_id)
    action = action_for(result, by, today)
    status = None
    if action is not None:
        target = result.invoice or task.invoice_id
        if not target:
            raise TaskError(f"task #{task_id} names no invoice: give the invoice it concerns")
        status = await act_or_keep_refusal(client, engine, target, action)
    complete_task(engine, task_id, result.outcome, result.note, by)
    return status
