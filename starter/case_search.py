"""`relance cases`: cases found through Temporal visibility, by the search attributes the cases keep up to date."""

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus

from workflows.search_attributes import (
    AMOUNT_DUE,
    COLLECTION_STAGE,
    CURRENCY,
    CUSTOMER_ID,
    DISPUTED,
    DUE_DATE,
    INVOICE_ID,
    NEXT_ACTION_AT,
    POLICY_NAME,
)


@dataclass(frozen=True)
class CaseFilter:
    stages: tuple[str, ...] = ()
    customer_id: str | None = None
    policy: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    overdue_days: int | None = None
    disputed: bool | None = None
    include_closed: bool = False


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def visibility_query(wanted: CaseFilter, today: date) -> str:
    """The list filter, in Temporal's SQL-like visibility syntax (paste it in the UI to see the same cases).

    Due dates are kept as midnight UTC of the due day, so "overdue N days" is a plain comparison.
    """
    clauses = ["WorkflowType = 'InvoiceCollection'"]
    if not wanted.include_closed:
        clauses.append("ExecutionStatus = 'Running'")
    if wanted.stages:
        clauses.append(f"{COLLECTION_STAGE.name} IN ({', '.join(_quoted(s) for s in wanted.stages)})")
    if wanted.customer_id:
        clauses.append(f"{CUSTOMER_ID.name} = {_quoted(wanted.customer_id)}")
    if wanted.policy:
        clauses.append(f"{POLICY_NAME.name} = {_quoted(wanted.policy)}")
    if wanted.min_amount is not None:
        clauses.append(f"{AMOUNT_DUE.name} >= {wanted.min_amount}")
    if wanted.max_amount is not None:
        clauses.append(f"{AMOUNT_DUE.name} <= {wanted.max_amount}")
    if wanted.overdue_days is not None:
        # due on or before today - N: strictly before the next midnight (equality on datetimes is unreliable)
        bound = datetime.combine(today - timedelta(days=wanted.overdue_days - 1), time(), tzinfo=UTC)
        clauses.append(f"{DUE_DATE.name} < '{bound.isoformat().replace('+00:00', 'Z')}'")
    if wanted.disputed is not None:
        clauses.append(f"{DISPUTED.name} = {str(wanted.disputed).lower()}")
    return " AND ".join(clauses)


@dataclass(frozen=True)
class ListedCase:
    invoice_id: str
    customer_id: str | None
    stage: str | None
    amount_due: float | None  # visibility's double: for display; exact balances are in `relance status`
    currency: str | None
    due_date: date | None
    policy: str | None
    disputed: bool | None
    next_action_at: datetime | None
    status: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def list_cases(client: Client, query: str, limit: int) -> list[ListedCase]:
    found: list[ListedCase] = []
    async for execution in client.list_workflows(query, limit=limit):
        attrs = execution.typed_search_attributes
        due = attrs.get(DUE_DATE)
        found.append(
            ListedCase(
                invoice_id=attrs.get(INVOICE_ID) or execution.id.removeprefix("invoice-"),
                customer_id=attrs.get(CUSTOMER_ID),
                stage=attrs.get(COLLECTION_STAGE),
                amount_due=attrs.get(AMOUNT_DUE),
                currency=attrs.get(CURRENCY),
                due_date=due.astimezone(UTC).date() if due else None,
                policy=attrs.get(POLICY_NAME),
                disputed=attrs.get(DISPUTED),
                next_action_at=attrs.get(NEXT_ACTION_AT),
                status=(execution.status or WorkflowExecutionStatus.RUNNING).name.lower(),
            )
        )
    return found
