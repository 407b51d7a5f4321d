"""The work queue and the reports over HTTP, for collectors."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException

from relance.api.context import ApiContext
from relance.api.problems import Refused
from relance.domain.access import Role
from relance.domain.case_view import CaseStatus
from relance.domain.task_outcome import TaskOutcome
from relance.ledger.api_tokens import Caller
from relance.ledger.reports import build_report
from relance.ledger.work_queue import TaskError, TaskView, UnknownTask, list_tasks
from relance.rates.table_file import coverage_warning
from starter.ops import ActionRejected, UnknownCase
from starter.tasks import finish_task


def work_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["work"])
    gate = context.gate

    @router.get("/tasks", summary="The work queue: calls and other manual steps, by due date")
    async def tasks(
        caller: Annotated[Caller, Depends(gate.needs(Role.collector))],
        due: Literal["today", "overdue", "open", "all"] = "open",
        assignee: str | None = None,
    ) -> list[TaskView]:
        return list_tasks(context.engine, today=date.today(), due=due, assignee=assignee)

    @router.post(
        "/tasks/{task_id}/done", summary="Close a task with its outcome (promise, paid, dispute, plan feed the case)"
    )
    async def done(
        task_id: int,
        result: Annotated[TaskOutcome, Body()],
        caller: Annotated[Caller, Depends(gate.needs(Role.collector))],
    ) -> CaseStatus | None:
        """The case's new status when the outcome fed it, else null. A refusal by the case leaves the task open."""
        try:
            return await finish_task(
                context.engine,
                await context.temporal(),
                task_id,
                result,
                f"api:{caller.name}",
                date.today(),
                context.settings.task_queue,
            )
        except TaskError as err:
            raise HTTPException(404 if isinstance(err, UnknownTask) else 409, str(err)) from None
        except UnknownCase as err:
            raise HTTPException(404, str(err)) from None
        except ActionRejected as err:
            raise Refused(f"{err} (task #{task_id} stays open)") from None

    @router.get("/reports", summary="Aging balance, DSO, recovered amounts, promises, disputes, bank matching")
    async def report(
        caller: Annotated[Caller, Depends(gate.needs(Role.collector))], as_of: date | None = None
    ) -> dict[str, Any]:
        day = as_of or date.today()
        result = build_report(context.engine, day)
        return {**result.as_dict(), "rates_warning": coverage_warning(context.settings.rates_file, day)}

    return router
