"""Cases over HTTP: create (one or a batch), search, status, statement of account, ops actions, documents.
Each route calls the function the matching `relance` command calls."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.api.access import bearer
from relance.api.context import ApiContext
from relance.api.problems import Refused, invalid
from relance.domain.access import Role, Undeclared, role_for_action
from relance.domain.actions import Action
from relance.domain.case_view import CaseStatus
from relance.domain.invoice import CaseInput
from relance.domain.limits import decimal_text
from relance.domain.penalties import MissingRate, Statement
from relance.domain.policy import NoPolicy, select_policy
from relance.domain.rules import OPS_ACTIONS
from relance.ledger.api_tokens import Caller
from relance.ledger.db import CaseRow, Document
from relance.ledger.documents import stored_file
from relance.ledger.rejections import keep_rejections, rejected_action
from starter.case_search import CaseFilter, ListedCase, list_cases, visibility_query
from starter.einvoicing import import_einvoices
from starter.importer import RowProblem, case_from_fields, customer_counts, in_batch, start_or_find
from starter.ops import ActionRejected, UnknownCase, act_or_keep_refusal, status
from starter.statements import statement_at

CASE_ACTIONS: tuple[type[Action], ...] = OPS_ACTIONS  # every case action
ACTIONS: dict[str, type[Action]] = {a.name: a for a in CASE_ACTIONS}
MAX_BATCH = 1000


EINVOICE_TYPES = ("application/pdf", "application/xml", "text/xml")


class CreatedCase(BaseModel):
    invoice_id: str
    outcome: str  # started | existing | rejected; an e-invoice's credit note: credited, or kept for a person
    reason: str | None = None


class DocumentInfo(BaseModel):
    id: int
    step_id: str
    kind: str
    created_at: Any
    file: str  # the file's name; GET /documents/{id} returns it


def _amount(text: str | None, name: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return decimal_text(text)
    except ValueError as err:
        raise HTTPException(422, f"{name}: {err}") from None


def cases_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["cases"])
    gate, settings = context.gate, context.settings

    @router.post(
        "/cases",
        summary='Create one case, or a batch (`{"invoices": [...]}`), or one from an e-invoice (PDF or XML body)',
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "application/xml": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    async def create_cases(
        request: Request, caller: Annotated[Caller, Depends(gate.needs(Role.collector))]
    ) -> list[CreatedCase]:
        """Same contract as `relance import`: each invoice is checked alone; an existing case is reported as
        `existing` and left unchanged (the call may be repeated safely). A Factur-X PDF, a CII or a UBL XML as the
        body opens its case (a credit note reduces the invoice it names: `credited`)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in EINVOICE_TYPES:
            policies = context.policies()
            outcomes = await import_einvoices(
                await context.temporal(), context.engine, settings, [("body", await request.body())], policies,
                f"api:{caller.name}",
            )  # fmt: skip
            return [
                CreatedCase(
                    invoice_id=o.invoice or "",
                    outcome="rejected" if o.outcome == "refused" else o.outcome,
                    reason=o.detail if o.outcome in ("refused", "kept") else None,
                )
                for o in outcomes
            ]
        if kind != "application/json":
            raise HTTPException(415, "send application/json, or an e-invoice as application/pdf or application/xml")
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError as err:
            raise HTTPException(422, f"body: the body is not JSON: {err.msg} (at character {err.pos})") from None
        except UnicodeDecodeError:
            raise HTTPException(422, "body: the body is not JSON: not UTF-8") from None
        if not isinstance(body, dict):
            raise HTTPException(422, 'the body is one invoice, or {"invoices": [...]}')
        items = body.get("invoices") if "invoices" in body else [body]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise HTTPException(422, f"invoices: a list of 1 to {MAX_BATCH} invoices")
        policies = context.policies()
        client = await context.temporal()
        read: list[CaseInput | CreatedCase] = []  # each item, as a case to start or as its refusal
        for item in items:
            if not isinstance(item, dict):
                read.append(CreatedCase(invoice_id="", outcome="rejected", reason="an invoice is a JSON object"))
                continue
            try:
                case = case_from_fields(item)
                select_policy(policies, case)
            except (RowProblem, NoPolicy) as err:
                raw_id = item.get("invoice_id")
                read.append(CreatedCase(invoice_id=str(raw_id)[:60] if raw_id else "", outcome="rejected",
                                        reason=str(err)))  # fmt: skip
                continue
            read.append(case)
        counts = customer_counts(c for c in read if isinstance(c, CaseInput))  # the request is one batch
        results = []
        for one in read:
            if isinstance(one, CreatedCase):
                results.append(one)
                continue
            case = in_batch(one, counts)
            started = await start_or_find(client, case, settings.task_queue, by=f"api:{caller.name}")
            results.append(CreatedCase(invoice_id=case.invoice_id, outcome="started" if started else "existing"))
        return results

    @router.get("/cases", summary="Search cases (the filters of `relance cases`), from Temporal visibility")
    async def search(
        caller: Annotated[Caller, Depends(gate.needs(Role.collector))],
        stage: Annotated[list[str] | None, Query(max_length=20)] = None,
        customer: Annotated[str | None, Query(max_length=200)] = None,
        policy: Annotated[str | None, Query(max_length=120)] = None,
        min_amount: Annotated[str | None, Query(max_length=30)] = None,
        max_amount: Annotated[str | None, Query(max_length=30)] = None,
        overdue_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
        disputed: bool | None = None,
        include_closed: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[ListedCase]:
        wanted = CaseFilter(
            stages=tuple(stage or ()),
            customer_id=customer,
            policy=policy,
            min_amount=_amount(min_amount, "min_amount"),
            max_amount=_amount(max_amount, "max_amount"),
            overdue_days=overdue_days,
            disputed=disputed,
            include_closed=include_closed,
        )
        return await list_cases(await context.temporal(), visibility_query(wanted, date.today()), limit)

    @router.get("/cases/{invoice_id}", summary="A case's status, with its history")
    async def case_status(
        invoice_id: str, caller: Annotated[Caller, Depends(gate.needs(Role.collector))]
    ) -> CaseStatus:
        try:
            return await status(await context.temporal(), invoice_id)
        except UnknownCase as err:
            raise HTTPException(404, str(err)) from None

    @router.get("/cases/{invoice_id}/statement", summary="The statement of account (décompte de créance) at a date")
    async def case_statement(
        invoice_id: str, caller: Annotated[Caller, Depends(gate.needs(Role.collector))], at: date | None = None
    ) -> Statement:
        day = at or date.today()
        try:
            _, result = await statement_at(await context.temporal(), invoice_id, day, settings.rates_file)
        except UnknownCase as err:
            raise HTTPException(404, str(err)) from None
        except MissingRate as err:
            raise Refused(f"no statement at {day}: {err}") from None
        except ValueError as err:
            raise HTTPException(422, f"at: {err}") from None
        return result

    @router.post(
        "/cases/{invoice_id}/actions/{action}",
        summary="An ops action, with the same payload as its update",
        dependencies=[Depends(bearer)],
    )
    async def case_action(
        invoice_id: str,
        action: str,
        request: Request,
        body: Annotated[dict[str, Any], Body()] = {},  # noqa: B006
    ) -> CaseStatus:
        """The least role depends on the action (court and agency: legal; write-off, re-application: admin). The
        action is recorded as done by `api:<token name>`; a refusal is kept in the ledger's refused input."""
        model = ACTIONS.get(action)
        if model is None:
            raise HTTPException(404, f"no action {action[:60]!r}; one of {', '.join(sorted(ACTIONS))}")
        try:
            least = role_for_action(model)
        except Undeclared as err:
            raise HTTPException(403, str(err)) from None
        caller = gate.allowed(gate.caller(request), least)
        by = f"api:{caller.name}"
        try:
            payload = model.model_validate({**body, "by": by})
        except ValidationError as err:
            keep_rejections(context.engine, [rejected_action(invoice_id, action, body, str(err), by)])
            return invalid(err)  # type: ignore[return-value]
        try:
            client, queue = await context.temporal(), settings.task_queue
            return await act_or_keep_refusal(client, context.engine, invoice_id, payload, task_queue=queue)
        except UnknownCase as err:
            raise HTTPException(404, str(err)) from None
        except ActionRejected as err:
            raise Refused(str(err)) from None

    @router.get("/cases/{invoice_id}/documents", summary="The documents a case produced (formal notice, dossier)")
    async def documents(
        invoice_id: str, caller: Annotated[Caller, Depends(gate.needs(Role.legal))]
    ) -> list[DocumentInfo]:
        with Session(context.engine) as session:
            case_ids = session.scalars(select(CaseRow.case_id).where(CaseRow.invoice_id == invoice_id)).all()
            if not case_ids:
                raise HTTPException(404, f"no case for invoice {invoice_id} in the ledger")
            rows = session.scalars(
                select(Document).where(Document.case_id.in_(case_ids)).order_by(Document.created_at, Document.id)
            ).all()
            return [DocumentInfo(id=d.id, step_id=d.step_id, kind=d.kind, created_at=d.created_at,
                                 file=Path(d.path).name) for d in rows]  # fmt: skip

    @router.get("/documents/{document_id}", summary="A document's file (PDF)", response_class=FileResponse)
    async def document_file(
        document_id: int, caller: Annotated[Caller, Depends(gate.needs(Role.legal))]
    ) -> FileResponse:
        with Session(context.engine) as session:
            row = session.get(Document, document_id)
        if row is None:
            raise HTTPException(404, f"no document #{document_id}")
        path = stored_file(settings.documents_dir, row.path)
        if path is None:
            raise HTTPException(404, f"document #{document_id}: its file is no longer under the documents folder")
        return FileResponse(path, filename=path.name)

    return router
