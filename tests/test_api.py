"""The HTTP API (issue: an HTTP API with access levels), against the time-skipping server and a real ledger:
tokens and roles (401, 403, 429), idempotent case creation, ops actions (422 naming the fields), status,
a customer's standing for sales, and 503 when Temporal is out of reach."""

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
from temporalio.service import RPCError

from relance.api.app import api_app
from relance.domain.access import Role
from relance.ledger.api_tokens import create_token, revoke_token
from relance.ledger.db import engine_for
from relance.settings import Settings
from tests.conftest import ROOT, Case, invoice, terminate_all


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
    empty = await http.post("/cases", json={"invoices": []}, headers=collector)
    assert empty.status_code == 422 and empty.headers["content-type"] == "application/problem+json"
    assert empty.json()["detail"] == "invoices: a list of 1 to 1000 invoices"
    await Case(env, env.client.get_workflow_handle("invoice-API-1")).settled()


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


ROLE_CASES = [
    ("get", "/cases/API-1", None, Role.sales, 403),
    ("post", "/cases", {"invoice_id": "X"}, Role.sales, 403),
    ("post", "/cases/API-1/actions/payment_received", {}, Role.sales, 403),
    ("post", "/cases/API-1/actions/court_order_issued", {}, Role.collector, 403),
    ("post", "/cases/API-1/actions/write_off", {}, Role.legal, 403),
    ("post", "/cases/API-1/actions/write_off", {}, Role.admin, 422),  # allowed: refused for its missing reason
    ("get", "/customers/C-ACME/standing", None, Role.sales, 404),  # allowed: no case in the ledger yet
]


@pytest.mark.parametrize(("method", "path", "payload", "role", "expected"), ROLE_CASES)
async def test_each_role_gets_403_where_it_lacks_the_right(api, method, path, payload, role, expected):
    http, headers, _ = api
    response = await http.request(method, path, json=payload, headers=headers[role])
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["detail"].startswith(f"the {role.value} role may not do this (needs ")


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
    assert (standing["name"], standing["balance"]) == ("ACME SAS", {"EUR": "1250.00"})
    assert [i["invoice_id"] for i in standing["open_invoices"]] == ["API-1"]
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


def test_the_openapi_document_in_docs_is_the_current_one(worker):
    document = api_app(worker).openapi()
    kept = ROOT / "docs" / "openapi.json"
    assert json.loads(kept.read_text(encoding="utf-8")) == document, "regenerate: python -m tests.test_api"


if __name__ == "__main__":
    settings = Settings(database_url="sqlite://", policy_dir=ROOT / "policies")
    (ROOT / "docs" / "openapi.json").write_text(json.dumps(api_app(settings).openapi(), indent=2) + "\n")
    print("wrote docs/openapi.json", date.today())
