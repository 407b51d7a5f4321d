"""The HTTP API: the same functions as the `relance` commands (starter.importer, starter.ops, the ledger's
views), behind API tokens with roles. Errors are JSON problem documents (RFC 9457); Temporal out of reach is
a 503 that says so.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from relance.api.access import Gate
from relance.domain.access import Role, role_for_action
from relance.domain.actions import OPS_ACTIONS, Action
from relance.domain.case import CaseStatus
from relance.domain.errors import explain
from relance.domain.limits import bounded
from relance.domain.policy import NoPolicy, load_policies, select_policy
from relance.ledger.api_tokens import Caller
from relance.ledger.customer_view import UnknownCustomer, customer_view
from relance.ledger.db import engine_for
from relance.settings import Settings
from starter.connect import TemporalUnreachable, connect
from starter.importer import RowProblem, case_from_fields, start_or_find
from starter.ops import ActionRejected, UnknownCase, act, status

ACTIONS: dict[str, type[Action]] = {a.name: a for a in OPS_ACTIONS}
MAX_BATCH = 1000


class CreatedCase(BaseModel):
    invoice_id: str
    outcome: str  # started | existing | rejected
    reason: str | None = None


class Standing(BaseModel):
    """What sales may see of a customer: no contact details, no history."""

    customer_id: str
    name: str
    standing: str
    balance: dict[str, str]
    oldest_days_late: int
    open_invoices: list[dict[str, Any]]
    good_standing_since: date | None


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def api_app(settings: Settings, client_factory: Callable[[], Awaitable[Client]] | None = None) -> FastAPI:
    engine = engine_for(settings.database_url)
    gate = Gate(engine, settings.api_rate_per_minute)
    clients: list[Client] = []

    async def temporal() -> Client:
        if not clients:
            clients.append(await (client_factory() if client_factory else connect(settings)))
        return clients[0]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="Relance API",
        version="1",
        description="Invoice collection cases: create them, act on them, read them. Bearer API tokens with roles.",
        lifespan=lifespan,
    )

    @app.exception_handler(HTTPException)
    async def http_problem(_: Request, exc: HTTPException) -> JSONResponse:
        response = problem(exc.status_code, {401: "Unauthorized", 403: "Forbidden"}.get(exc.status_code, "Error"),
                           str(exc.detail))  # fmt: skip
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"][1:]) or "body" for e in exc.errors()]
        detail = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, exc.errors(), strict=True))
        return problem(422, "Invalid input", bounded(detail, 2000), fields=fields)

    @app.exception_handler(TemporalUnreachable)
    async def unreachable(_: Request, exc: TemporalUnreachable) -> JSONResponse:
        clients.clear()
        return problem(503, "Temporal unreachable", str(exc))

    @app.exception_handler(RPCError)
    async def rpc(_: Request, exc: RPCError) -> JSONResponse:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            clients.clear()
            return problem(503, "Temporal unreachable", f"Temporal did not answer: {bounded(exc.message, 300)}")
        return problem(502, "Temporal refused", bounded(exc.message, 500))

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/cases", summary='Create one case, or a batch (`{"invoices": [...]}`)')
    async def create_cases(
        body: Annotated[dict[str, Any], Body()], caller: Annotated[Caller, Depends(gate.needs(Role.collector))]
    ) -> list[CreatedCase]:
        """Same contract as `relance import`: each invoice is checked alone; an existing case is reported as
        `existing` and left unchanged (the call may be repeated safely)."""
        items = body.get("invoices") if "invoices" in body else [body]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise HTTPException(422, f"invoices: a list of 1 to {MAX_BATCH} invoices")
        policies = load_policies(settings.policy_dir, settings.template_dir)
        client = await temporal()
        results = []
        for item in items:
            if not isinstance(item, dict):
                results.append(CreatedCase(invoice_id="", outcome="rejected", reason="an invoice is a JSON object"))
                continue
            try:
                case = case_from_fields(item)
                select_policy(policies, case)
            except (RowProblem, NoPolicy) as err:
                raw_id = item.get("invoice_id")
                results.append(CreatedCase(invoice_id=str(raw_id)[:60] if raw_id else "", outcome="rejected",
                                           reason=str(err)))  # fmt: skip
                continue
            started = await start_or_find(client, case, settings.task_queue)
            results.append(CreatedCase(invoice_id=case.invoice_id, outcome="started" if started else "existing"))
        return results

    @app.get("/cases/{invoice_id}", summary="A case's status and statement")
    async def case_status(
        invoice_id: str, caller: Annotated[Caller, Depends(gate.needs(Role.collector))]
    ) -> CaseStatus:
        try:
            return await status(await temporal(), invoice_id)
        except UnknownCase as err:
            raise HTTPException(404, str(err)) from None

    @app.post("/cases/{invoice_id}/actions/{action}", summary="An ops action, with the same payload as its update")
    async def case_action(
        invoice_id: str,
        action: str,
        request: Request,
        body: Annotated[dict[str, Any], Body()] = {},  # noqa: B006
    ) -> CaseStatus:
        model = ACTIONS.get(action)
        if model is None:
            raise HTTPException(404, f"no action {action[:60]!r}; one of {', '.join(sorted(ACTIONS))}")
        caller = gate.needs(role_for_action(action))(request)
        try:
            payload = model.model_validate({**body, "by": f"api:{caller.name}"})
        except ValidationError as err:
            fields = [".".join(str(p) for p in e["loc"]) for e in err.errors()]
            return problem(422, "Invalid input", explain(err), fields=fields)  # type: ignore[return-value]
        try:
            return await act(await temporal(), invoice_id, payload)
        except UnknownCase as err:
            raise HTTPException(404, str(err)) from None
        except ActionRejected as err:
            return problem(409, "Refused by the case", str(err))  # type: ignore[return-value]

    @app.get("/customers/{customer_id}/standing", summary="What sales may know before a visit")
    async def standing(customer_id: str, caller: Annotated[Caller, Depends(gate.needs(Role.sales))]) -> Standing:
        try:
            view = customer_view(engine, customer_id, date.today())
        except UnknownCustomer as err:
            raise HTTPException(404, str(err)) from None
        return Standing(
            customer_id=view.customer_id,
            name=view.name,
            standing=view.standing,
            balance={currency: str(amount) for currency, amount in view.balance.items()},
            oldest_days_late=max((c.days_late for c in view.open_cases), default=0),
            open_invoices=[
                {
                    "invoice_id": c.invoice_id,
                    "currency": c.currency,
                    "balance": str(c.balance),
                    "due_date": c.due_date.isoformat(),
                    "days_late": c.days_late,
                    "stage": c.stage,
                }
                for c in view.open_cases
            ],
            good_standing_since=view.good_standing_since,
        )

    return app
