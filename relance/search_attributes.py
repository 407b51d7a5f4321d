"""The case's search attributes: what an operator filters on in the Temporal UI and in `relance cases`.

The workflow upserts them whenever they change; `relance setup` registers them on a namespace, and the
worker refuses to start where they are missing (an unregistered attribute would fail every case's task).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    ListSearchAttributesResponse,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.service import RPCError, RPCStatusCode

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
    return updates


def attribute_types() -> dict[str, "IndexedValueType.ValueType"]:
    """The case attributes as the operator service registers them."""
    return {key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in CASE_ATTRIBUTES}


CANNOT_LIST = (
    "this server cannot list search attributes (the time-skipping test server, for one), so the case "
    "attributes were not checked"
)


async def _listed(client: Client, namespace: str) -> ListSearchAttributesResponse | None:
    """The namespace's attributes, or None from a server without the operator API's list call."""
    try:
        return await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    except RPCError as err:
        if err.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise


async def missing_attributes(client: Client, namespace: str) -> list[str] | None:
    """The case attributes the namespace lacks or holds with another type, as `Name (Type)`; None when the
    server cannot say."""
    listed = await _listed(client, namespace)
    if listed is None:
        return None
    known = {**listed.system_attributes, **listed.custom_attributes}
    return [
        f"{name} ({IndexedValueType.Name(kind).removeprefix('INDEXED_VALUE_TYPE_').title()})"
        for name, kind in attribute_types().items()
        if known.get(name) != kind
    ]


@dataclass(frozen=True)
class Registration:
    added: list[str]  # the names added (none when all were there)
    listed: bool  # False: the server cannot list attributes, so their types were not checked


async def register_attributes(client: Client, namespace: str) -> Registration:
    """Add the case attributes the namespace lacks."""
    listed = await _listed(client, namespace)
    wanted = attribute_types()
    if listed is None:  # add each one; the server says which it already had
        added = []
        for name, kind in wanted.items():
            try:
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(namespace=namespace, search_attributes={name: kind})
                )
                added.append(name)
            except RPCError as err:
                if err.status != RPCStatusCode.ALREADY_EXISTS:
                    raise
        return Registration(sorted(added), listed=False)
    conflicting = [
        name
        for name, kind in wanted.items()
        if name in listed.custom_attributes and listed.custom_attributes[name] != kind
    ]
    if conflicting:
        raise ValueError(f"search attributes registered with another type: {', '.join(conflicting)}")
    to_add = {name: kind for name, kind in wanted.items() if name not in listed.custom_attributes}
    if to_add:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=to_add)
        )
    return Registration(sorted(to_add), listed=True)
