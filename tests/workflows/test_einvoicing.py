"""French e-invoicing on running cases (issue "French e-invoicing"): our Factur-X, CII and UBL invoices open
cases (their PDF kept), the same again opens nothing, a credit note reduces the invoice it names; the platform's
statuses act on the cases (210 stops and gives a task, 207 opens a dispute, 211 holds the chase then lets it
resume) or are kept for a person; a payment yields a 212 that validates, adds up and is posted once."""

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from pypdf import PdfReader

from relance.api.app import api_app
from relance.api.sales_page import COOKIE
from relance.domain.access import Role
from relance.domain.actions import PaymentReceived
from relance.domain.case_view import CaseStatus
from relance.domain.policy import load_policies
from relance.domain.portal_links import sign_link
from relance.einvoicing.cdar import check_cdar, read_cdar
from relance.ledger.api_tokens import create_token
from relance.ledger.db import engine_for
from relance.ledger.einvoices import invoice_document, known_einvoice, outbox_rows
from relance.ledger.work_queue import list_tasks
from starter.einvoicing import Outcome, apply_statuses, import_einvoices, read_statuses, send_outbox
from starter.ops import act
from tests.builders import (
    BUYER_SIREN,
    PARIS,
    ROOT,
    START,
    cdar,
    cii_xml,
    einvoice_terms,
    facturx_pdf,
    invoice,
    paris,
    ubl_xml,
)
from tests.conftest import policies_copy, terminate_all
from tests.recording_endpoint import RecordingEndpoint, Reply
from workflows.search_attributes import EINVOICE_STATUS


@pytest.fixture
def platform() -> Any:
    recorder = RecordingEndpoint(default=Reply(status=202, body={"status": "accepted"}))
    yield recorder
    recorder.close()


def receipt_first(data: dict[str, Any]) -> None:
    """Every shipped policy, asking for the platform's proof of receipt before its first reminder."""
    data["einvoicing"] = {"require_receipt": True}


@pytest.fixture
def settings(settings, platform, tmp_path):
    return settings.model_copy(
        update={
            "policy_dir": policies_copy(tmp_path, receipt_first),
            "creditor_siren": "100000009",
            "einvoicing_address": "100000009_RELANCE",
            "einvoicing_platform_url": f"{platform.url}/v1/lifecycle",
            "einvoicing_outbox_dir": settings.documents_dir.parent / "einvoicing",
        }
    )


def said(outcomes: list[Outcome]) -> list[tuple[str | None, str]]:
    return [(o.invoice, o.outcome) for o in outcomes]


async def test_e_invoices_open_cases_and_the_platforms_statuses_drive_them(env, worker, platform):
    engine = engine_for(worker.database_url)
    policies = load_policies(worker.policy_dir, worker.template_dir)
    files = [
        ("FA-E1.xml", cii_xml(einvoice_terms("FA-E1"))),
        ("FA-E2.xml", ubl_xml(einvoice_terms("FA-E2", total="500.00"))),
        ("FA-E3.pdf", facturx_pdf(einvoice_terms("FA-E3", total="1000.00"))),
        ("broken.xml", b"<Invoice>no</Invoice>"),
    ]
    handles = [env.client.get_workflow_handle(f"invoice-FA-E{n}") for n in (1, 2, 3)]
    try:
        first = await import_einvoices(env.client, engine, worker, files, policies, "ops")
        assert said(first) == [("FA-E1", "started"), ("FA-E2", "started"), ("FA-E3", "started"), (None, "refused")]
        assert first[3].detail.startswith("the cii XML: ")
        again = await import_einvoices(env.client, engine, worker, files[:3], policies, "ops")
        assert said(again) == [("FA-E1", "existing"), ("FA-E2", "existing"), ("FA-E3", "existing")]
        kept = invoice_document(engine, "FA-E3")  # the Factur-X PDF is the invoice's document
        assert kept == str(worker.documents_dir / "einvoices" / "FA-E3.pdf") and Path(kept).read_bytes() == files[2][1]
        assert invoice_document(engine, "FA-E1") is None  # a bare XML has no PDF to keep
        row = known_einvoice(engine, "FA-E3")
        assert row is not None and (row.siren, row.format, row.customer_id) == (
            BUYER_SIREN,
            "facturx",
            f"SIREN-{BUYER_SIREN}",
        )

        # a credit note (381) reduces the invoice it names, once
        note = ("AV-E1.xml", cii_xml(einvoice_terms("AV-E1", type_code="381", total="155.00", corrects="FA-E1")))
        credited = await import_einvoices(env.client, engine, worker, [note, note], policies, "ops")
        assert said(credited) == [("AV-E1", "credited"), ("AV-E1", "existing")]
        status = await handles[0].query("status", result_type=CaseStatus)
        assert (status.balance, status.credited) == (Decimal("1000.00"), Decimal("155.00"))

        messages = [
            ("refus.xml", cdar("PA-1", "FA-E1", "210", "Refusée", reason_code="TX_TVA_ERR", note="Taux de TVA faux")),
            ("litige.xml", cdar("PA-2", "FA-E2", "207", "En litige", reason_code="LIT_QTE", note="3 cartons manquent")),
            ("paye.xml", cdar("PA-3", "FA-E3", "211", "Paiement transmis")),
            ("inconnu.xml", cdar("PA-4", "FA-E3", "299", "Inventée")),
            ("autre.xml", cdar("PA-5", "FA-NOPE", "202", "Reçue")),
            ("refus-bis.xml", cdar("PA-1", "FA-E1", "210", "Refusée", reason_code="TX_TVA_ERR")),
            ("pas-cdar.xml", b"<Invoice/>"),
        ]
        statuses, refused = read_statuses(messages)
        assert said(refused) == [(None, "refused")]
        outcomes = await apply_statuses(env.client, engine, statuses, "platform")
        assert said(outcomes) == [
            ("FA-E1", "applied"), ("FA-E2", "applied"), ("FA-E3", "applied"), ("FA-E3", "kept"),
            ("FA-NOPE", "kept"), ("FA-E1", "already"),
        ]  # fmt: skip
        refused_case, disputed, held = [await h.query("status", result_type=CaseStatus) for h in handles]
        assert refused_case.stage == "disputed"
        assert (
            refused_case.pause_reason == "dispute: plateforme de facturation, 210 Refusée: TX_TVA_ERR; Taux de TVA faux"
        )
        assert disputed.stage == "disputed" and "LIT_QTE; 3 cartons manquent" in (disputed.pause_reason or "")
        today = held.as_of.astimezone(PARIS).date()  # the policy calendar's day (Paris), not UTC's
        assert (held.state, held.paused_until) == ("paused", today + timedelta(days=7))
        tasks = {t.invoice_id + ":" + t.script.split(":")[0]: t for t in list_tasks(engine, today=today, due="all")}
        assert "issue the credit note, or the corrected invoice" in tasks["FA-E1:210 Refusée"].script
        assert tasks["FA-E3:211 Paiement transmis"].due_on == today + timedelta(days=7)
        assert {"FA-E3:e-invoicing platform", "FA-NOPE:e-invoicing platform"} <= set(tasks)
        shown = (await handles[0].describe()).typed_search_attributes
        assert shown.get(EINVOICE_STATUS) == "210 Refusée"  # what the Temporal UI filters on
        history = [h for h in refused_case.history if h.event == "einvoice_status"]
        assert [h.detail for h in history] == ["e-invoicing platform: 210 Refusée (TX_TVA_ERR; Taux de TVA faux)"]

        # the money is on its way: no reminder for the policy's 7 days, then the chase resumes by itself
        await env.sleep(timedelta(days=8))
        resumed = await handles[2].query("status", result_type=CaseStatus)
        assert (resumed.state, resumed.paused_until) == ("open", None)

        # a payment applied yields one 212, split by VAT rate as the invoice is, validated, posted once
        paid = PaymentReceived(amount=Decimal("400.00"), paid_on=date.today(), reference="VIR-E3", by="bank")
        await act(env.client, "FA-E3", paid)
        for _ in range(200):
            if outbox_rows(engine, "FA-E3"):
                break
            await env.sleep(timedelta(seconds=1))
        (queued,) = outbox_rows(engine, "FA-E3")
        assert (queued.code, queued.amount, queued.state) == ("212", Decimal("400.00"), "pending")
        xml = queued.xml.encode()
        assert check_cdar(xml) == []
        (read,) = read_cdar(xml)
        assert (read.code, read.invoice, read.amount) == ("212", "FA-E3", Decimal("400.00"))
        assert b'<ram:ValueAmount currencyID="EUR">240.00</ram:ValueAmount>' in xml  # 60 % at 20 %
        assert b'<ram:ValueAmount currencyID="EUR">160.00</ram:ValueAmount>' in xml  # 40 % at 5.5 %

        platform.script = [Reply(status=503, body={"error": "maintenance"})]
        assert await send_outbox(engine, worker) == 1  # refused for now: tried again later
        (waiting,) = outbox_rows(engine, "FA-E3")
        assert (waiting.state, waiting.attempts, waiting.answer) == (
            "pending",
            1,
            'HTTP 503: {"error": "maintenance"}',
        )
        written = worker.einvoicing_outbox_dir / "212_invoice-FA-E3_VIR-E3.xml"
        assert written.read_bytes() == xml
    finally:
        await terminate_all(env.client, handles)
    assert [(r.path, r.headers["Idempotency-Key"], r.body["xml"].encode() == xml) for r in platform.requests] == [
        ("/v1/lifecycle", "212:invoice-FA-E3:VIR-E3", True)
    ]


async def test_the_api_takes_an_e_invoice_and_the_platforms_statuses(env, worker):
    """`POST /cases` with a Factur-X PDF as the body opens its case; the platform posts its statuses with its own
    credential (a wrong one is refused); a collector's token may post them too."""
    engine = engine_for(worker.database_url)
    erp = {"Authorization": f"Bearer {create_token(engine, 'erp', Role.collector, 'test')}"}
    platform = {"Authorization": "Bearer platform-secret-0123456789", "Content-Type": "application/xml"}

    async def client():
        return env.client

    settings = worker.model_copy(
        update={
            "einvoicing_inbound_secret": SecretStr("platform-secret-0123456789"),
            "portal_secret": SecretStr("portal-secret-0123456789"),
        }
    )
    handle = env.client.get_workflow_handle("invoice-FA-API")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api_app(settings, client)), base_url="http://api"
        ) as http:
            pdf = facturx_pdf(einvoice_terms("FA-API"))
            created = await http.post("/cases", content=pdf, headers={**erp, "Content-Type": "application/pdf"})
            assert created.json() == [{"invoice_id": "FA-API", "outcome": "started", "reason": None}], created.text
            junk = await http.post("/cases", content=b"%PDF-1.4", headers={**erp, "Content-Type": "application/pdf"})
            assert junk.json()[0]["outcome"] == "rejected" and junk.json()[0]["reason"].startswith("not a readable")
            odd = await http.post("/cases", content=b"x", headers={**erp, "Content-Type": "text/csv"})
            assert odd.status_code == 415
            received = cdar("PA-9", "FA-API", "202", "Reçue")
            answer = await http.post("/einvoicing/statuses", content=received, headers=platform)
            assert [(o["invoice"], o["outcome"], o["detail"]) for o in answer.json()] == [
                ("FA-API", "applied", "202 Reçue (no reason given)")
            ], answer.text
            wrong = {**platform, "Authorization": "Bearer not-the-platform"}
            assert (await http.post("/einvoicing/statuses", content=received, headers=wrong)).status_code == 401
            again = await http.post(
                "/einvoicing/statuses", content=received, headers={**erp, "Content-Type": "application/xml"}
            )
            assert [o["outcome"] for o in again.json()] == ["already"]
            not_cdar = await http.post("/einvoicing/statuses", content=b"<x/>", headers=platform)
            assert not_cdar.status_code == 422
            # the debtor's page offers the invoice itself, as it was imported
            link = sign_link("portal-secret-0123456789", f"SIREN-{BUYER_SIREN}")
            for _ in range(100):
                page = await http.get(f"/portal/{link}")
                if "FA-API" in page.text:
                    break
                await asyncio.sleep(0.05)  # the case's first ledger write
            assert f'href="/portal/{link}/invoice/FA-API.pdf"' in page.text
            served = await http.get(f"/portal/{link}/invoice/FA-API.pdf")
            assert (served.status_code, served.content) == (200, pdf)
            other = await http.get(f"/portal/{sign_link('portal-secret-0123456789', 'C-OTHER')}/invoice/FA-API.pdf")
            assert other.status_code == 404  # nobody else's invoice
            # and the sales page, to a signed-in sales person
            sales = create_token(engine, "anne", Role.sales, "test")
            signed = {"Cookie": f"{COOKIE}={sales}"}
            card = await http.get(f"/sales/customers/SIREN-{BUYER_SIREN}", headers=signed)
            pdf_path = f"/sales/customers/SIREN-{BUYER_SIREN}/invoices/FA-API.pdf"
            assert f'href="{pdf_path}" data-invoice-pdf' in card.text
            assert (await http.get(pdf_path, headers=signed)).content == pdf
            assert (await http.get(pdf_path)).status_code == 303  # signed out: to the sign-in page
        status = await handle.query("status", result_type=CaseStatus)
        assert status.einvoice is not None and status.einvoice.received_on is not None
        (entry,) = [h for h in status.history if h.event == "einvoice_status"]
        assert entry.by == "e-invoicing platform"
    finally:
        await terminate_all(env.client, [handle])


async def test_a_policy_may_wait_for_the_proof_of_receipt_which_the_formal_notice_cites(env, open_case, worker):
    """49 days late, the formal notice is due at once; the policy waits for the platform's 202 first, then the
    letter says when the platform delivered the invoice."""
    case = await open_case(invoice("ER-1", due=date(2026, 3, 2), starts_at=START))
    status = await case.advance_to(paris(2026, 4, 20, 12))
    assert [s.status for s in status.steps if s.step_id == "formal-notice"] == []
    assert (
        status.waiting_for == "the e-invoicing platform's word that the buyer received the invoice (status 202 or 203)"
    )
    engine = engine_for(worker.database_url)
    statuses, _ = read_statuses([("recu.xml", cdar("PA-R", "ER-1", "202", "Reçue", sent="20260420130000"))])
    assert said(await apply_statuses(env.client, engine, statuses, "platform")) == [("ER-1", "applied")]
    status = await case.advance_to(paris(2026, 4, 21, 12))
    assert [s.status for s in status.steps if s.step_id == "formal-notice"] == ["done"]
    letter = worker.letter_outbox_dir / "invoice-ER-1_formal-notice.pdf"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(letter).pages)
    assert "Cette facture vous a été remise par la plateforme de facturation électronique le 20 avril 2026." in text


REAL = ROOT.parent / "shared" / "real-files" / "einvoice" / "facturx"


@pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is absent (real files are not in the repository)")
async def test_the_real_factur_x_samples_import_into_cases(env, worker):
    """The published samples (../shared/real-files): each invoice opens its case (the XML and the PDF of one
    invoice are one case), the credit note for an invoice that is no case here is kept for a person."""
    engine = engine_for(worker.database_url)
    policies = load_policies(worker.policy_dir, worker.template_dir)
    files = [(p.name, p.read_bytes()) for p in sorted(REAL.iterdir())]
    handles = [env.client.get_workflow_handle(f"invoice-{n}") for n in ("F20260023", "103767", "F20180027")]
    try:
        outcomes = await import_einvoices(env.client, engine, worker, files, policies, "ops")
        assert said(outcomes) == [
            ("F20260023", "started"), ("F20260023", "existing"), ("103767", "started"), ("F20180027", "started"),
            ("AV-2017-0005", "kept"),
        ]  # fmt: skip
        assert outcomes[0].detail.endswith("(the buyer's SIREN 987654321 fails its check digit)")
        assert outcomes[4].detail == "no case for FA-2017-0010; a task for a person"
        status = await handles[1].query("status", result_type=CaseStatus)
        assert (status.amount, status.currency, status.due_date) == (Decimal("681.87"), "EUR", date(2026, 3, 3))
        assert invoice_document(engine, "103767") == str(worker.documents_dir / "einvoices" / "103767.pdf")
    finally:
        await terminate_all(env.client, handles)


async def test_a_status_a_case_cannot_take_is_kept_for_a_person_with_why(worker):
    """A 206 whose approved amount is negative never reaches the case: a task says why, the import goes on."""
    engine = engine_for(worker.database_url)
    statuses, _ = read_statuses([("neg.xml", cdar("PA-N", "FA-N", "206", "Approuvée partiellement", amount="-5.00"))])
    (outcome,) = await apply_statuses(None, engine, statuses, "platform")  # no case is reached: no client needed
    assert (outcome.outcome, outcome.detail.startswith("206 Approuvée partiellement not applied: amount")) == (
        "kept",
        True,
    )
    (task,) = [t for t in list_tasks(engine, today=date.today()) if t.invoice_id == "FA-N"]
    assert task.kind == "einvoicing" and "not applied" in task.script
