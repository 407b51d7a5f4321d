"""The HTTP API (issue: an HTTP API with access levels), against the time-skipping server and a real ledger:
tokens and roles (401, 403, 429), idempotent case creation, ops actions (422 naming the fields), status,
a customer's standing for sales, and 503 when Temporal is out of reach."""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.service import RPCError

from relance.api.app import api_app
from relance.domain.access import Role
from relance.domain.case import CaseState
from relance.ledger.api_tokens import create_token, revoke_token
from relance.ledger.db import CaseRow, Document, RejectedInput, engine_for
from relance.settings import Settings
from tests.builders import ROOT, invoice, paris
from tests.conftest import Case, terminate_all


@pytest.fixture
async def api(env, worker) -> AsyncIterator[tuple[httpx.AsyncClient, dict[Role, dict[str, str]], Settings]]:
    async def client():
        return env.client

    app = api_app(worker, client)
    engine = engine_for(worker.database_url)
    headers = {
        role: {"Authorization": f"Bearer {create_token(engine, f'{role.value} user', role, 'test')}"} for role in Role
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http, headers, worker
    handles = []
    for invoice_id in ("API-1", "API-2"):
        handle = env.client.get_workflow_handle(f"invoice-{invoice_id}")
        try:
            await handle.describe()
        except RPCError:
            continue  # never started by this test
        handles.append(handle)
    await terminate_all(env.client, handles)


def body(invoice_id: str, **changes: object) -> dict[str, object]:
    """An invoice 10 days overdue today (the API, like an import, takes no demo clock)."""
    due = date.today() - timedelta(days=10)
    fields = invoice(invoice_id, due=due).model_dump(mode="json", exclude_none=True)
    fields.pop("clock", None)
    return {**fields, **changes}


START = paris(2026, 4, 20, 8)


async def test_cases_are_created_once_and_bad_invoices_are_refused_one_by_one(api, env):
    http, headers, _ = api
    collector = headers[Role.collector]
    first = await http.post("/cases", json=body("API-1"), headers=collector)
    assert first.status_code == 200, first.text
    assert first.json() == [{"invoice_id": "API-1", "outcome": "started", "reason": None}]
    batch = {"invoices": [body("API-1"), body("API-2"), body("API-3", amount="-5"), "nope"]}
    again = await http.post("/cases", json=batch, headers=collector)
    assert [(r["invoice_id"], r["outcome"]) for r in again.json()] == [
        ("API-1", "existing"), ("API-2", "started"), ("API-3", "rejected"), ("", "rejected"),
    ]  # fmt: skip
    assert again.json()[2]["reason"].startswith("amount:")
    assert again.json()[3]["reason"] == "an invoice is a JSON object"
    described = await env.client.get_workflow_handle("invoice-API-2").describe()
    assert await described.memo_value("created_by") == "api:collector user"  # who created the case
    empty = await http.post("/cases", json={"invoices": []}, headers=collector)
    assert empty.status_code == 422 and empty.headers["content-type"] == "application/problem+json"
    assert empty.json()["detail"] == "invoices: a list of 1 to 1000 invoices"
    await Case(env, env.client.get_workflow_handle("invoice-API-1")).settled()
    # a request is one batch: API-1 came alone; API-2 came with API-1 (already open), of the same customer
    for invoice_id, in_batch in (("API-1", 1), ("API-2", 2)):
        state = await env.client.get_workflow_handle(f"invoice-{invoice_id}").query("case_state", result_type=CaseState)
        assert state.case.customer_invoices_in_batch == in_batch, invoice_id


async def test_actions_are_recorded_with_the_token_name_and_bad_payloads_name_their_fields(api, env):
    http, headers, _ = api
    await http.post("/cases", json=body("API-1"), headers=headers[Role.collector])
    await Case(env, env.client.get_workflow_handle("invoice-API-1")).settled()
    payment = {"amount": "250.00", "paid_on": date.today().isoformat(), "reference": "VIR-9"}
    paid = await http.post("/cases/API-1/actions/payment_received", json=payment, headers=headers[Role.collector])
    assert paid.status_code == 200, paid.text
    assert paid.json()["balance"] == "1000.00"
    entry = next(h for h in paid.json()["history"] if h["event"] == "payment_received")
    assert entry["by"] == "api:collector user"
    half = {"amount": "abc", "paid_on": date.today().isoformat()}
    bad = await http.post("/cases/API-1/actions/payment_received", json=half, headers=headers[Role.collector])
    assert bad.status_code == 422 and bad.json()["fields"] == ["amount", "reference"], bad.json()
    unknown = await http.post("/cases/API-1/actions/teleport", json={}, headers=headers[Role.admin])
    assert unknown.status_code == 404 and "no action 'teleport'" in unknown.json()["detail"]
    refused = await http.post("/cases/API-1/actions/resume", json={}, headers=headers[Role.collector])
    assert refused.status_code == 409 and "resume refused for API-1" in refused.json()["detail"]
    shown = await http.get("/cases/API-1", headers=headers[Role.legal])
    assert shown.status_code == 200 and shown.json()["invoice_id"] == "API-1"
    missing = await http.get("/cases/NOPE-1", headers=headers[Role.collector])
    assert missing.status_code == 404 and "no case for invoice NOPE-1" in missing.json()["detail"]


# Every route of the API, the least role it needs, and a request that role may make. The first test checks the
# table covers every route; the second that no token gets 401, the role just below gets 403 and the least role
# gets past the gate (its answer may still be 404 or 422: the gate is what is checked).
ENDPOINTS = [
    ("post", "/cases", Role.collector, {"invoice_id": "X"}),
    ("get", "/cases", Role.collector, None),
    ("get", "/cases/{invoice_id}", Role.collector, None),
    ("get", "/cases/{invoice_id}/statement", Role.collector, None),
    ("post", "/cases/{invoice_id}/actions/payment_received", Role.collector, {}),
    ("post", "/cases/{invoice_id}/actions/court_order_issued", Role.legal, {}),
    ("post", "/cases/{invoice_id}/actions/write_off", Role.admin, {}),
    ("post", "/cases/{invoice_id}/actions/reapply_policy", Role.admin, {}),
    ("get", "/cases/{invoice_id}/documents", Role.legal, None),
    ("get", "/documents/{document_id}", Role.legal, None),
    ("get", "/customers?q=acme", Role.sales, None),
    ("get", "/customers/{customer_id}/standing", Role.sales, None),
    ("get", "/customers/{customer_id}", Role.collector, None),
    ("post", "/customers/{customer_id}/actions/hold", Role.collector, {}),
    ("get", "/tasks", Role.collector, None),
    ("post", "/tasks/{task_id}/done", Role.collector, {"outcome": "no_answer"}),
    ("get", "/reports", Role.collector, None),
    ("get", "/tokens", Role.admin, None),
    ("post", "/tokens", Role.admin, {"name": "x", "role": "nobody"}),
    ("delete", "/tokens/{name}", Role.admin, None),
    ("post", "/einvoicing/statuses", Role.collector, {}),  # or the platform's own credential (test_einvoicing)
]
EXAMPLE = {"invoice_id": "API-1", "customer_id": "C-ACME", "document_id": "1", "task_id": "1", "name": "nobody"}
BELOW = {Role.collector: Role.sales, Role.legal: Role.collector, Role.admin: Role.legal}


SIGNED = {  # a provider's doors: its signature or secret, not a role (own tests)
    ("post", "/webhooks/sendgrid/events"),
    ("post", "/webhooks/sendgrid/inbound/{secret}"),
    ("post", "/webhooks/twilio/status"),
    ("post", "/webhooks/twilio/inbound"),
    ("post", "/webhooks/stripe"),
}


def test_the_role_table_covers_every_route(worker):
    documented = {(method, path) for path, item in api_app(worker).openapi()["paths"].items() for method in item}
    documented -= SIGNED
    tabled = {(m, re.sub(r"/actions/[a-z_]+$", "/actions/{action}", p.split("?")[0])) for m, p, _, _ in ENDPOINTS}
    assert len(tabled) == len(documented)
    assert documented == tabled


@pytest.mark.parametrize(("method", "path", "least", "payload"), ENDPOINTS, ids=lambda v: str(v))
async def test_no_token_gets_401_the_role_below_403_and_the_least_role_passes(api, method, path, least, payload):
    http, headers, _ = api
    path = path.format(**EXAMPLE)
    kwargs = {"json": payload} if payload is not None else {}
    anonymous = await http.request(method, path, **kwargs)
    assert anonymous.status_code == 401 and anonymous.json()["title"] == "Unauthorized", anonymous.text
    if least in BELOW:
        below = BELOW[least]
        refused = await http.request(method, path, headers=headers[below], **kwargs)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == f"the {below.value} role may not do this (needs {least.value})"
    passed = await http.request(method, path, headers=headers[least], **kwargs)
    assert passed.status_code not in (401, 403), passed.text


async def test_no_token_a_wrong_one_and_a_revoked_one_get_401(api):
    http, headers, settings = api
    assert (await http.get("/customers/C-1/standing")).status_code == 401
    wrong = await http.get("/customers/C-1/standing", headers={"Authorization": "Bearer rlt_guess"})
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "this API token is unknown or revoked")
    assert (await http.get("/customers/C-1/standing", headers=headers[Role.sales])).status_code == 404
    revoke_token(engine_for(settings.database_url), "sales user")
    assert (await http.get("/customers/C-1/standing", headers=headers[Role.sales])).status_code == 401


async def test_sales_sees_the_standing_without_contact_details(api, env):
    http, headers, _ = api
    await http.post("/cases", json=body("API-1"), headers=headers[Role.collector])
    await Case(env, env.client.get_workflow_handle("invoice-API-1")).settled()
    shown = await http.get("/customers/C-ACME/standing", headers=headers[Role.sales])
    assert shown.status_code == 200, shown.text
    standing = shown.json()
    assert (standing["name"], standing["balance"], standing["overdue"]) == (
        "ACME SAS", {"EUR": "1250.00"}, {"EUR": "1250.00"}
    )  # fmt: skip
    assert (standing["standing"], standing["oldest_days_late"]) == ("overdue", 10)
    assert [i["invoice_id"] for i in standing["open_cases"]] == ["API-1"]
    text = json.dumps(standing)
    assert "compta@acme.example" not in text and "rue de la Paix" not in text


async def test_a_token_over_its_rate_gets_429_and_temporal_out_of_reach_gets_503(worker, tmp_path):
    settings = worker.model_copy(update={"api_rate_per_minute": 2, "temporal_address": "127.0.0.1:1"})
    app = api_app(settings)
    token = create_token(engine_for(settings.database_url), "eager", Role.collector, "test")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        down = await http.get("/cases/API-1", headers=auth)
        assert down.status_code == 503 and down.json()["title"] == "Temporal unreachable"
        assert "cannot reach Temporal at 127.0.0.1:1" in down.json()["detail"]
        await http.get("/cases/API-1", headers=auth)
        limited = await http.get("/cases/API-1", headers=auth)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


TEMPORAL_BACKED = [
    ("post", "/cases", {"invoices": [body("API-9")]}),
    ("get", "/cases?customer=C-ACME", None),
    ("get", "/cases/API-9", None),
    ("get", "/cases/API-9/statement", None),
    ("post", "/cases/API-9/actions/payment_received", {"amount": "1", "paid_on": "2026-05-01", "reference": "R"}),
]


@pytest.mark.parametrize(("method", "path", "payload"), TEMPORAL_BACKED)
async def test_every_route_that_needs_temporal_answers_503_when_it_is_out_of_reach(worker, method, path, payload):
    settings = worker.model_copy(update={"temporal_address": "127.0.0.1:1"})
    token = create_token(engine_for(settings.database_url), f"admin {method} {path}", Role.admin, "test")
    kwargs = {"json": payload} if payload is not None else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app(settings)), base_url="http://api") as http:
        down = await http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert down.status_code == 503, down.text
    assert down.json()["detail"].startswith("cannot reach Temporal at 127.0.0.1:1")


def test_the_openapi_document_in_docs_is_the_current_one(worker):
    document = api_app(worker).openapi()
    kept = ROOT / "docs" / "openapi.json"
    assert json.loads(kept.read_text(encoding="utf-8")) == document, "regenerate: python -m tests.workflows.test_api"


if __name__ == "__main__":
    settings = Settings(database_url="sqlite://", policy_dir=ROOT / "policies")
    (ROOT / "docs" / "openapi.json").write_text(json.dumps(api_app(settings).openapi(), indent=2) + "\n")
    print("wrote docs/openapi.json", date.today())


async def test_a_collector_works_a_case_through_the_api(api, env, open_case):
    """Tasks, their outcome fed to the case, the statement, the customer views and the report: each answer is the
    one the CLI gives, since both call the same functions."""
    http, headers, settings = api
    collector, sales = headers[Role.collector], headers[Role.sales]
    case = await open_case(invoice("API-2", starts_at=START, customer={"phone": "+33 1 02 03 04 05"}))
    await case.advance_to(paris(2026, 5, 15, 12))  # call-1 is due on 15 May
    listed = await http.get("/tasks", params={"due": "all"}, headers=collector)
    assert [(t["invoice_id"], t["due_on"], t["phone"], t["status"]) for t in listed.json()] == [
        ("API-2", "2026-05-15", "+33 1 02 03 04 05", "open")
    ]
    task_id = listed.json()[0]["id"]
    missing_date = await http.post(f"/tasks/{task_id}/done", json={"outcome": "promise"}, headers=collector)
    assert missing_date.status_code == 422 and "outcome promise needs on" in missing_date.json()["detail"]
    unknown_field = await http.post(f"/tasks/{task_id}/done", json={"outcome": "paid", "sum": 3}, headers=collector)
    assert unknown_field.status_code == 422 and "sum" in unknown_field.json()["fields"]
    done = await http.post(f"/tasks/{task_id}/done", json={"outcome": "promise", "on": "2026-05-22"}, headers=collector)
    assert done.status_code == 200, done.text
    assert (done.json()["stage"], done.json()["history"][-1]["by"]) == ("promise_to_pay", "api:collector user")
    again = await http.post(f"/tasks/{task_id}/done", json={"outcome": "no_answer"}, headers=collector)
    assert again.status_code == 409 and again.json()["detail"] == f"task #{task_id} is already done (promise)"
    assert (await http.post("/tasks/99999/done", json={"outcome": "no_answer"}, headers=collector)).status_code == 404
    await case.settled()
    await until_ledger(settings, "API-2", "promise_to_pay")

    statement = await http.get("/cases/API-2/statement", params={"at": "2026-05-20"}, headers=collector)
    assert statement.status_code == 200, statement.text
    figures = statement.json()
    assert (figures["principal_due"], figures["indemnity_due"], figures["currency"]) == ("1250.00", "40.00", "EUR")
    assert figures["total_due"] == str(
        Decimal(figures["principal_due"]) + Decimal(figures["interest_due"]) + Decimal(figures["indemnity_due"])
    )
    unpriced = await http.get("/cases/API-2/statement", params={"at": "2099-01-01"}, headers=collector)
    assert unpriced.status_code == 409 and unpriced.json()["detail"].startswith("no statement at 2099-01-01: ")
    not_a_day = await http.get("/cases/API-2/statement", params={"at": "soon"}, headers=collector)
    assert not_a_day.status_code == 422 and not_a_day.json()["fields"] == ["at"]

    card = (await http.get("/customers/C-ACME/standing", params={"as_of": "2026-05-20"}, headers=sales)).json()
    assert (card["standing"], card["overdue"], card["oldest_days_late"]) == ("overdue", {"EUR": "1250.00"}, 20)
    assert card["arrangements"] == [
        {"invoice_id": "API-2", "kind": "promise", "agreed_at": card["arrangements"][0]["agreed_at"],
         "currency": "EUR", "dues": [{"due_on": "2026-05-22", "amount": "1250.00"}]}
    ]  # fmt: skip
    assert card["last_contact_at"].startswith("2026-05-15")
    assert "+33 1 02 03 04 05" not in json.dumps(card)
    found = await http.get("/customers", params={"q": "acm"}, headers=sales)
    assert found.json() == [{"customer_id": "C-ACME", "name": "ACME SAS", "open_cases": 1}]
    full = (await http.get("/customers/C-ACME", params={"as_of": "2026-05-20"}, headers=collector)).json()
    assert (full["promises_made"], full["standing"], full["risk"]["level"]) == (1, "overdue", full["risk"]["level"])
    report = (await http.get("/reports", params={"as_of": "2026-05-20"}, headers=collector)).json()
    assert [(a["label"], a["count"], a["amount"]) for a in report["aging"] if a["count"]] == [("1-30", 1, "1250.00")]
    assert report["promises_made"] == 1


async def until_ledger(settings, invoice_id: str, stage: str) -> None:
    engine = engine_for(settings.database_url)
    for _ in range(200):
        with Session(engine) as session:
            row = session.scalar(select(CaseRow).where(CaseRow.invoice_id == invoice_id))
        if row is not None and row.stage == stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the ledger never showed {invoice_id} at {stage}")


async def test_admins_make_list_and_revoke_tokens_over_http(api):
    http, headers, _ = api
    admin = headers[Role.admin]
    made = await http.post("/tokens", json={"name": "ERP nightly", "role": "collector"}, headers=admin)
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert (made.json()["name"], made.json()["role"], token[:4]) == ("ERP nightly", "collector", "rlt_")
    theirs = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/tasks", headers=theirs)).status_code == 200
    assert (await http.get("/tokens", headers=theirs)).status_code == 403
    listed = {t["name"]: t for t in (await http.get("/tokens", headers=admin)).json()}
    assert (listed["ERP nightly"]["role"], listed["ERP nightly"]["created_by"]) == ("collector", "api:admin user")
    assert "token" not in listed["ERP nightly"] and token not in json.dumps(listed)
    twice = await http.post("/tokens", json={"name": "ERP nightly", "role": "sales"}, headers=admin)
    assert twice.status_code == 409 and "a token named 'ERP nightly' exists" in twice.json()["detail"]
    bad = await http.post("/tokens", json={"name": "x", "role": "boss"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["fields"] == ["role"]
    assert (await http.delete("/tokens/ERP nightly", headers=admin)).status_code == 204
    assert (await http.get("/tasks", headers=theirs)).status_code == 401
    assert (await http.delete("/tokens/ERP nightly", headers=admin)).status_code == 404


async def test_legal_reads_a_cases_documents_and_nothing_outside_their_folder(api, env):
    http, headers, settings = api
    legal = headers[Role.legal]
    await http.post("/cases", json=body("API-1"), headers=headers[Role.collector])
    await Case(env, env.client.get_workflow_handle("invoice-API-1")).settled()
    await until_ledger(settings, "API-1", "overdue")
    engine = engine_for(settings.database_url)
    notice = settings.documents_dir / "API-1" / "mise-en-demeure-API-1.pdf"
    notice.parent.mkdir(parents=True)
    notice.write_bytes(b"%PDF-1.4 formal notice")
    outside = settings.documents_dir.parent / "secret.pdf"
    outside.write_bytes(b"%PDF-1.4 not a case document")
    with Session(engine) as session, session.begin():
        case_id = session.scalar(select(CaseRow.case_id).where(CaseRow.invoice_id == "API-1"))
        for path in (notice, outside):
            session.add(Document(case_id=case_id, step_id="formal-notice", kind="formal_notice", path=str(path),
                                 created_at=datetime.now(UTC)))  # fmt: skip
    listed = (await http.get("/cases/API-1/documents", headers=legal)).json()
    assert [(d["kind"], d["file"]) for d in listed] == [
        ("formal_notice", "mise-en-demeure-API-1.pdf"), ("formal_notice", "secret.pdf")
    ]  # fmt: skip
    first = await http.get(f"/documents/{listed[0]['id']}", headers=legal)
    assert (first.status_code, first.content) == (200, b"%PDF-1.4 formal notice")
    assert first.headers["content-type"] == "application/pdf"
    escaped = await http.get(f"/documents/{listed[1]['id']}", headers=legal)
    assert escaped.status_code == 404 and "no longer under the documents folder" in escaped.json()["detail"]
    assert (await http.get("/cases/NOPE/documents", headers=legal)).status_code == 404


async def test_a_customer_is_held_and_released_through_the_api(api, env):
    http, headers, settings = api
    collector = headers[Role.collector]
    await http.post("/cases", json=body("API-1"), headers=collector)
    await Case(env, env.client.get_workflow_handle("invoice-API-1")).settled()
    held = await http.post("/customers/C-ACME/actions/hold", json={"reason": "négociation en cours"}, headers=collector)
    assert held.status_code == 200, held.text
    assert (held.json()["hold"]["reason"], held.json()["open_cases"]) == ("négociation en cours", ["API-1"])
    shown = (await http.get("/cases/API-1", headers=collector)).json()
    assert shown["stage"] == "customer_hold"
    assert next(h["by"] for h in reversed(shown["history"]) if h["event"] == "customer_hold") == "api:collector user"
    released = await http.post("/customers/C-ACME/actions/release", json={}, headers=collector)
    assert released.status_code == 200 and released.json()["hold"] is None
    no_reason = await http.post("/customers/C-ACME/actions/hold", json={}, headers=collector)
    assert no_reason.status_code == 422 and no_reason.json()["fields"] == ["reason"]
    unknown = await http.post("/customers/C-ACME/actions/forgive", json={}, headers=collector)
    assert unknown.status_code == 404 and "no customer action 'forgive'" in unknown.json()["detail"]
    nobody = await http.post("/customers/C-NOBODY/actions/release", json={}, headers=collector)
    assert nobody.status_code == 404 and nobody.json()["detail"] == (
        "customer C-NOBODY has no open case: there is nothing to act on"
    )
    twice = await http.post("/customers/C-ACME/actions/release", json={}, headers=collector)
    assert twice.status_code == 409 and "the customer is not on hold" in twice.json()["detail"]
    with Session(engine_for(settings.database_url)) as session:
        kept = session.scalars(select(RejectedInput).where(RejectedInput.source == "account_action")).all()
    assert [(r.action, r.payload["customer_id"], r.by) for r in kept] == [
        ("release", "C-NOBODY", "api:collector user"), ("release", "C-ACME", "api:collector user")
    ]  # fmt: skip


BAD_QUERIES = [
    ("/tasks?due=someday", Role.collector, "due"),
    ("/reports?as_of=yesterday", Role.collector, "as_of"),
    ("/customers?q=", Role.sales, "q"),
    ("/customers?q=acme&limit=0", Role.sales, "limit"),
    ("/customers/C-ACME/standing?as_of=2026-13-01", Role.sales, "as_of"),
    ("/customers/C-ACME?as_of=soon", Role.collector, "as_of"),
    ("/cases?overdue_days=-1", Role.collector, "overdue_days"),
    ("/cases?limit=5000", Role.collector, "limit"),
    ("/cases?disputed=maybe", Role.collector, "disputed"),
]


@pytest.mark.parametrize(("path", "role", "field"), BAD_QUERIES)
async def test_a_bad_query_parameter_is_a_422_naming_it(api, path, role, field):
    http, headers, _ = api
    refused = await http.get(path, headers=headers[role])
    assert refused.status_code == 422 and refused.json()["fields"] == [field], refused.text
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_payment_returned_over_http_reopens_the_case_it_had_paid(api, env, open_case):
    """As `relance reverse` and the bank import do (issue 34, bug 3): the API refused it on a paid case."""
    http, headers, _ = api
    case = await open_case(invoice("API-REV", starts_at=START))
    paid = {"amount": "1250.00", "paid_on": "2026-04-20", "reference": "VIR-REV"}
    assert (
        await http.post("/cases/API-REV/actions/payment_received", json=paid, headers=headers[Role.collector])
    ).json()["outcome"] == "paid"
    back = {"reference": "VIR-REV", "amount": "1250.00", "reason": "AM04", "reversed_on": "2026-04-20"}
    answer = await http.post("/cases/API-REV/actions/payment_reversed", json=back, headers=headers[Role.collector])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["state"], answer.json()["balance"], answer.json()["outcome"]) == ("open", "1250.00", None)
    assert [h["by"] for h in answer.json()["history"] if h["event"] == "payment_reversed"] == ["api:collector user"]
    await env.client.get_workflow_handle("invoice-API-REV").terminate(reason="test finished")
    assert case is not None


async def test_an_admin_reapplies_a_policy_over_http(api, env, open_case):
    """reapply_policy had no route (issue 34, bug 4): it is an action like the others, for admins only."""
    http, headers, _ = api
    await open_case(invoice("API-2", starts_at=START))
    body = {"policy": "key-accounts"}
    refused = await http.post("/cases/API-2/actions/reapply_policy", json=body, headers=headers[Role.legal])
    assert refused.status_code == 403
    answer = await http.post("/cases/API-2/actions/reapply_policy", json=body, headers=headers[Role.admin])
    assert answer.status_code == 200, answer.text
    assert answer.json()["policy"] == "key-accounts@v2"
    unknown = await http.post(
        "/cases/API-2/actions/reapply_policy", json={"policy": "nope"}, headers=headers[Role.admin]
    )
    assert unknown.status_code == 409 and "nope" in unknown.json()["detail"]
