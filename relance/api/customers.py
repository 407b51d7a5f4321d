"""Customers over HTTP: search by name or id and the standing card (sales), the full view (collectors)."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query

from relance.api.context import ApiContext
from relance.api.problems import Refused
from relance.domain.access import Role
from relance.domain.account import ACCOUNT_ACTIONS
from relance.domain.actions import Action
from relance.ledger.api_tokens import Caller
from relance.ledger.customer_view import (
    CustomerMatch,
    CustomerView,
    StandingCard,
    UnknownCustomer,
    customer_view,
    search_customers,
    standing_card,
)
from starter.ops import ActionRejected, UnknownCase, act_on_account_or_keep_refusal

ACCOUNT: dict[str, type[Action]] = {a.name: a for a in ACCOUNT_ACTIONS}


def customers_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["customers"])
    gate = context.gate

    @router.get("/customers", summary="Customers whose name or id contains `q` (those with open cases first)")
    async def find(
        q: Annotated[str, Query(min_length=1, max_length=100)],
        caller: Annotated[Caller, Depends(gate.needs(Role.sales))],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[CustomerMatch]:
        return search_customers(context.engine, q, limit)

    @router.get("/customers/{customer_id}/standing", summary="What sales may know before a visit")
    async def standing(
        customer_id: str, caller: Annotated[Caller, Depends(gate.needs(Role.sales))], as_of: date | None = None
    ) -> StandingCard:
        """Standing (good, overdue, disputed, on_hold, formal_notice, court, agency), open and overdue amounts per
        currency, the oldest days late, open promises and plans, the last contact. No contact details."""
        try:
            return standing_card(context.engine, customer_id, as_of or date.today())
        except UnknownCustomer as err:
            raise HTTPException(404, str(err)) from None

    @router.get("/customers/{customer_id}", summary="A customer's open cases, payment behaviour and risk")
    async def view(
        customer_id: str, caller: Annotated[Caller, Depends(gate.needs(Role.collector))], as_of: date | None = None
    ) -> CustomerView:
        try:
            return customer_view(context.engine, customer_id, as_of or date.today())
        except UnknownCustomer as err:
            raise HTTPException(404, str(err)) from None

    @router.post("/customers/{customer_id}/actions/{action}", summary="A customer-level action (hold, release, …)")
    async def account_action(
        customer_id: str,
        action: str,
        caller: Annotated[Caller, Depends(gate.needs(Role.collector))],
        body: Annotated[dict[str, Any], Body()] = {},  # noqa: B006
    ) -> dict[str, Any]:
        """`hold`, `release`, `exclude`, `include` or `unallocated_payment_received` (spread over the oldest open
        balances), with the payload of `relance account …`; the customer's account answers."""
        model = ACCOUNT.get(action)
        if model is None:
            raise HTTPException(404, f"no customer action {action[:60]!r}; one of {', '.join(sorted(ACCOUNT))}")
        payload = model.model_validate({**body, "by": f"api:{caller.name}"})  # refused: 422 (problems.py)
        try:
            client, queue = await context.temporal(), context.settings.task_queue
            return await act_on_account_or_keep_refusal(client, context.engine, customer_id, payload, queue)
        except UnknownCase as err:
            raise HTTPException(404, str(err)) from None
        except ActionRejected as err:
            raise Refused(str(err)) from None

    return router
