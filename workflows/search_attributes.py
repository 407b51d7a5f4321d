"""The case's search attributes: what an operator filters on in the Temporal UI and in `relance cases`.

The workflow upserts them whenever they change; `relance setup` registers them on a namespace
(starter/namespace.py), and the worker refuses to start where they are missing (an unregistered attribute
would fail every case's task).
"""

from datetime import UTC, date, datetime, time
from decimal import Decimal

from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from relance.domain.case import CaseState, NextEvent
    from relance.domain.einvoicing import label

INVOICE_ID = SearchAttributeKey.for_keyword("InvoiceId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
COLLECTION_STAGE = SearchAttributeKey.for_keyword("CollectionStage")
# Visibility only knows doubles: AmountDue is for filtering and sorting; exact money lives in the case and ledger.
AMOUNT_DUE = SearchAttributeKey.for_float("AmountDue")
CURRENCY = SearchAttributeKey.for_keyword("Currency")
DUE_DATE = SearchAttributeKey.for_datetime("DueDate")
POLICY_NAME = SearchAttributeKey.for_keyword("PolicyName")
DISPUTED = SearchAttributeKey.for_bool("Disputed")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")
# The e-invoicing platform's last status ("210 Refusée"): set once a platform spoke, never before, so a case
# that never heard from one upserts exactly what it always did.
EINVOICE_STATUS = SearchAttributeKey.for_keyword("EInvoiceStatus")

CASE_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (
    INVOICE_ID,
    CUSTOMER_ID,
    COLLECTION_STAGE,
    AMOUNT_DUE,
    CURRENCY,
    DUE_DATE,
    POLICY_NAME,
    DISPUTED,
    NEXT_ACTION_AT,
    EINVOICE_STATUS,
)


def case_attributes(
    *,
    invoice_id: str,
    customer_id: str,
    stage: str,
    balance: Decimal,
    currency: str,
    due_date: date,
    policy_name: str | None,
    disputed: bool,
    next_action_at: datetime | None,
    einvoice_status: str | None = None,
) -> list[SearchAttributeUpdate]:
    """The values a case shows; a missing policy or next action clears the attribute.

    The due date is a calendar day, not an instant: it is kept as midnight UTC of that day.
    """
    due = datetime.combine(due_date, time(), tzinfo=UTC)
    updates: list[SearchAttributeUpdate] = [
        INVOICE_ID.value_set(invoice_id),
        CUSTOMER_ID.value_set(customer_id),
        COLLECTION_STAGE.value_set(stage),
        AMOUNT_DUE.value_set(float(balance)),
        CURRENCY.value_set(currency),
        DUE_DATE.value_set(due),
        DISPUTED.value_set(disputed),
    ]
    updates.append(POLICY_NAME.value_set(policy_name) if policy_name else POLICY_NAME.value_unset())
    updates.append(NEXT_ACTION_AT.value_set(next_action_at) if next_action_at else NEXT_ACTION_AT.value_unset())
    if einvoice_status is not None:
        updates.append(EINVOICE_STATUS.value_set(einvoice_status))
    return updates


def attribute_types() -> dict[str, "IndexedValueType.ValueType"]:
    """The case attributes as the operator service registers them."""
    return {key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in CASE_ATTRIBUTES}


def upsert_changed_attributes(
    state: CaseState, next_event: NextEvent | None, shown: list[SearchAttributeUpdate], now: datetime
) -> list[SearchAttributeUpdate]:
    """Upsert what changed since `shown` (each upsert is an event in the case's history); what is shown now."""
    updates = case_attributes(
        invoice_id=state.case.invoice_id,
        customer_id=state.case.customer.id,
        stage=state.stage(now),
        balance=state.balance,
        currency=state.case.currency,
        due_date=state.case.due_date,
        policy_name=state.policy.name if state.policy else None,
        disputed=state.dispute is not None,
        next_action_at=state.clock.real_time(next_event.at) if next_event is not None else None,
        einvoice_status=label(state.einvoice.last_code) if state.einvoice and state.einvoice.last_code else None,
    )
    changed = [u for u in updates if u not in shown]
    if not changed:
        return shown
    workflow.upsert_search_attributes(changed)
    return updates
