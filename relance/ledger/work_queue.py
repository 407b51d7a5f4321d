"""Work for people: the tasks that manual steps create, listed by due date and assignee, and closed with
the outcome a person obtained (which then feeds the case as an ops action)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from relance.domain.activity_contract import StepRequest
from relance.ledger.db import Task

Due = Literal["today", "overdue", "open", "all"]


@dataclass(frozen=True)
class TaskView:
    id: int
    kind: str
    invoice_id: str
    customer_name: str
    phone: str | None
    due_on: date
    assignee: str
    status: str
    outcome: str | None
    script: str
    customer_id: str = ""
    request: dict[str, Any] | None = None  # a debtor's request from their page, for `accepted` to feed
    created_on: date | None = None


class TaskError(Exception):
    pass


class UnknownTask(TaskError):
    pass


def _still_open(task: Task | None, task_id: int) -> Task:
    if task is None:
        raise UnknownTask(f"no task #{task_id}")
    if task.status != "open":
        raise TaskError(f"task #{task_id} is already {task.status} ({task.outcome})")
    return task


def list_tasks(engine: Engine, *, today: date, due: Due = "open", assignee: str | None = None) -> list[TaskView]:
    query = select(Task).order_by(Task.due_on, Task.id)
    if due != "all":
        query = query.where(Task.status == "open")
    if due == "today":
        query = query.where(Task.due_on == today)
    elif due == "overdue":
        query = query.where(Task.due_on < today)
    if assignee:
        query = query.where(Task.assignee == assignee)
    with Session(engine) as session:
        return [_view(t) for t in session.scalars(query)]


def open_task(engine: Engine, task_id: int) -> TaskView:
    with Session(engine) as session:
        return _view(_still_open(session.get(Task, task_id), task_id))


def _view(t: Task) -> TaskView:
    return TaskView(
        t.id, t.kind, t.invoice_id, t.customer_name, t.phone, t.due_on, t.assignee, t.status, t.outcome, t.script,
        t.customer_id, t.request, t.created_at.date() if t.created_at else None,
    )  # fmt: skip


def complete_task(engine: Engine, task_id: int, outcome: str, detail: str, by: str) -> None:
    with Session(engine) as session, session.begin():
        task = _still_open(session.get(Task, task_id, with_for_update=True), task_id)
        task.status, task.outcome, task.outcome_detail = "done", outcome, detail
        task.done_at, task.done_by = datetime.now(UTC), by


def close_task_by_key(engine: Engine, key: str, outcome: str, detail: str, by: str) -> bool:
    """Close the open task made under `key`, if there is one (the system finished what it asked for)."""
    with Session(engine) as session, session.begin():
        task = session.execute(select(Task).where(Task.key == key, Task.status == "open").with_for_update()).scalar()
        if task is None:
            return False
        task.status, task.outcome, task.outcome_detail = "done", outcome, detail
        task.done_at, task.done_by = datetime.now(UTC), by
        return True


def create_task(engine: Engine, request: StepRequest, kind: str, script: str) -> tuple[int, bool]:
    """The task for this step (keyed case + step, so a retried activity finds the one it made)."""
    with Session(engine) as session, session.begin():
        existing = session.execute(select(Task).where(Task.key == request.idempotency_key).with_for_update()).scalar()
        if existing is not None:
            return existing.id, False
        task = Task(
            key=request.idempotency_key,
            kind=kind,
            case_id=request.case_id,
            invoice_id=request.invoice_id,
            step_id=request.step_id,
            customer_id=request.customer.id,
            customer_name=request.customer.name,
            phone=request.customer.phone,
            script=script,
            due_on=request.as_of,
            assignee=request.assignee,
        )
        session.add(task)
        session.flush()
        return task.id, True


def append_to_task(engine: Engine, task_id: int, marker: str, text: str) -> None:
    """Add a later batch's invoices to the day's call task, once per batch (the marker says it is there)."""
    with Session(engine) as session, session.begin():
        task = session.get(Task, task_id, with_for_update=True)
        if task is not None and f"[{marker}]" not in task.script:
            task.script = f"{task.script}\n[{marker}]\n{text}"


def create_review_task(
    engine: Engine,
    key: str,
    script: str,
    *,
    invoice_id: str,
    customer_id: str,
    due_on: date,
    kind: str = "bank",
    step_id: str = "bank",
    request: dict[str, Any] | None = None,
    assignee: str = "collections",
) -> int:
    """A task for a person to read and settle something no rule could (a bank entry the matching could not, a
    debtor's reply); keyed, so the same input again finds the task it made."""
    with Session(engine) as session, session.begin():
        existing = session.scalar(select(Task.id).where(Task.key == key))
        if existing is not None:
            return existing
        task = Task(
            key=key,
            kind=kind,
            case_id=f"invoice-{invoice_id}" if invoice_id else "",
            invoice_id=invoice_id,
            step_id=step_id,
            customer_id=customer_id,
            customer_name=customer_id,
            phone=None,
            script=script,
            due_on=due_on,
            assignee=assignee,
            request=request,
        )
        session.add(task)
        session.flush()
        return task.id


@dataclass(frozen=True)
class DebtorRequest:
    """A request the debtor made on their page that went to a person, and what became of it."""

    invoice_id: str
    action: str
    asked_on: date
    status: Literal["waiting", "accepted", "declined"]
    answer: str


AGREED = frozenset({"accepted", "promise", "paid", "dispute", "plan"})  # a person gave the debtor something


def debtor_requests(engine: Engine, customer_id: str, limit: int = 20) -> list[DebtorRequest]:
    """The customer's requests a person decides, newest first: what their page shows them."""
    query = (
        select(Task)
        .where(Task.customer_id == customer_id, Task.request.is_not(None))
        .order_by(Task.created_at.desc(), Task.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return [
            DebtorRequest(
                t.invoice_id, str((t.request or {}).get("action", "")), t.created_at.date(),
                "waiting" if t.status == "open" else "accepted" if t.outcome in AGREED else "declined",
                t.outcome_detail or "" if t.status != "open" else "",
            )
            for t in session.scalars(query)
        ]  # fmt: skip
