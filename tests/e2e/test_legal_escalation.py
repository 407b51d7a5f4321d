"""Escalation under French law, walked on the time-skipping server: formal notice, dossier, agency.

Figures worked by hand (rates/france.yaml: B2B 12.15 % in 2026-H1, legal rate 2.62 %):
B2B 1250.00 due 30/04/2026, notice on 04/06: 35 days -> 1250 x 0.1215 x 35 / 365 = 14.5633 -> 14.56;
  total 1250 + 14.56 + 40 = 1304.56.
  Paid 300.00 on 08/06: 39 days of interest 16.2277 -> 16.23 paid first, 283.77 on principal -> 966.23;
  dossier on 19/06: 11 more days on 966.23 = 3.5380 -> 3.54; due 966.23 + 3.54 + 40 = 1009.77.
B2C 189.90 due 31/03/2026: no interest before the notice; delivered 13/05, hand-off 01/06: 19 days at
  2.62 % = 0.2590 -> 0.26, total 190.16.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError

from activities.agency_delivery import deliver_case_file
from activities.delivery import DeliveryFailed, DeliveryRefused
from relance.domain.case_legal import court_for
from relance.domain.policy import Agency
from relance.ledger.db import Document, engine_for
from relance.ledger.work_queue import list_tasks
from relance.settings import Settings
from tests.builders import RECORDED as ECB_ANSWER
from tests.builders import ROOT, invoice, minute, paris
from tests.builders import rates as rates_command
from tests.conftest import policies_copy
from tests.recording_endpoint import RecordingEndpoint, Reply

SMALL_CLAIMS = "commissaire de justice (procédure simplifiée de recouvrement des petites créances)"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped policies and rates, with the agency's export folder moved under the test's own folder."""

    def local_agency(data: dict[str, Any]) -> None:
        agency = data.get("legal", {}).get("agency")
        if agency:
            agency["delivery"]["path"] = str(tmp_path / "agency-outbox")

    policies = policies_copy(tmp_path, local_agency)
    rates = tmp_path / "rates.yaml"
    rates.write_text((ROOT / "rates" / "france.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return settings.model_copy(update={"policy_dir": policies, "rates_file": rates})


def pdf_text(path: str | Path) -> str:
    """The PDF's words, single-spaced (Babel's no-break spaces in amounts become plain spaces)."""
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(path).pages)


async def test_b2b_invoice_from_due_date_to_formal_notice_dossier_and_payment(open_case, worker):
    case = await open_case(invoice("LEG-B2B", starts_at=paris(2026, 4, 20, 8)))
    status = await case.advance_to(paris(2026, 6, 4, 12))
    assert [(s.step_id, s.status) for s in status.steps] == [
        ("courtesy", "done"),
        ("reminder-1", "done"),
        ("reminder-2", "done"),
        ("call-1", "done"),
        ("final-reminder", "done"),
        ("formal-notice", "done"),
    ]
    assert (status.stage, status.formal_notice.sent_on, status.formal_notice.deadline) == (
        "formal_notice",
        date(2026, 6, 4),
        None,
    )
    assert status.waiting_for == "proof of delivery of the formal notice (registered_letter_delivered)"
    assert status.next_step.kind == "limitation_warning"  # only the warning, years ahead
    letter = pdf_text(status.formal_notice.document)
    for expected in (
        "MISE EN DEMEURE DE PAYER — facture LEG-B2B",
        "Lettre recommandée avec demande d'avis de réception",
        "Malgré nos relances",
        "régler la somme de 1 304,56 €",
        "dans un délai de 8 jours à compter de la réception",
        "Intérêts du 01/05/2026 au 04/06/2026 : 35 j à 12,15 % sur 1 250,00 € 14,56",
        "Indemnité forfaitaire pour frais de recouvrement (art. D441-5 C. com.) 40,00",
        "Total dû au 04/06/2026 1 304,56 €",
        "injonction de payer devant le tribunal de commerce",
    ):
        assert expected in letter, expected
    manifest = json.loads((worker.letter_outbox_dir / "invoice-LEG-B2B_formal-notice.json").read_text())
    assert (manifest["service"], manifest["address"]) == ("LRAR", ["1 rue de la Paix", "75002 Paris"])

    # a part payment after the notice, then the proof of delivery: the deadline runs from 6 June
    await case.advance_to(paris(2026, 6, 8, 12))
    await case.update("payment_received", {"amount": "300.00", "paid_on": "2026-06-08", "reference": "VIR-1"})
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await case.update("registered_letter_delivered", {"tracking_number": "1A", "delivered_on": "2026-06-01"})
    assert "delivered_on 2026-06-01 must fall between the sending (2026-06-04) and today" in str(refused.value.cause)
    status = await case.update(
        "registered_letter_delivered", {"tracking_number": "1A23456789012", "delivered_on": "2026-06-06"}
    )
    assert status.formal_notice.deadline == date(2026, 6, 14)
    assert (status.next_step.id, minute(status.next_step.at)) == ("injonction", paris(2026, 6, 19, 9))

    status = await case.advance_to(paris(2026, 6, 19, 12))
    assert (status.stage, status.state, status.court.route, status.court.court) == (
        "court",
        "paused",
        "injonction_de_payer",
        "tribunal de commerce",
    )
    dossier = Path(status.court.dossier)
    with zipfile.ZipFile(dossier) as bundle:
        assert sorted(bundle.namelist()) == [
            "LEG-B2B/decompte.json",
            "LEG-B2B/mise_en_demeure.pdf",
            "LEG-B2B/requete.json",
            "LEG-B2B/synthese.pdf",
        ]
        request = json.loads(bundle.read("LEG-B2B/requete.json"))
    assert request["amounts"] == {
        "currency": "EUR",
        "principal": "966.23",
        "interest": "3.54",
        "indemnity": "40.00",
        "costs": "0.00",
        "total": "1009.77",
    }
    assert [(c["date"], c["channel"]) for c in request["contacts"]] == [
        ("27/04/2026", "email"),
        ("04/05/2026", "email"),
        ("11/05/2026", "email"),
        ("15/05/2026", "phone"),
        ("26/05/2026", "email"),
        ("04/06/2026", "letter"),
    ]
    assert request["formal_notice"]["tracking_number"] == "1A23456789012"
    summary = pdf_text(dossier.parent / "injonction" / "synthese.pdf")
    for expected in (
        "Requête en injonction de payer — dossier",
        "tribunal de commerce du lieu du domicile du débiteur (Paris)",
        "Total : 1 009,77 €",
        "remise le 06/06/2026, suivi 1A23456789012",
        "Prescription acquise le 08/06/2031",
    ):
        assert expected in summary, expected
    statement = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relance.cli.main", "statement", "LEG-B2B", "--at", "2026-06-19", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TEMPORAL_ADDRESS": case.env.client.service_client.config.target_host},
    )
    assert statement.returncode == 0, statement.stderr
    shown = json.loads(statement.stdout)
    assert (shown["principal_due"], shown["interest_due"], shown["indemnity_due"], shown["total_due"]) == (
        "966.23",
        "3.54",
        "40.00",
        "1009.77",
    )
    assert [(i["start"], i["end"], i["days"], i["amount"]) for i in shown["interest"]] == [
        ("2026-05-01", "2026-06-08", 39, "16.23"),
        ("2026-06-09", "2026-06-19", 11, "3.54"),
    ]
    assert shown["payments"][0] == {
        "paid_on": "2026-06-08",
        "reference": "VIR-1",
        "amount": "300.00",
        "to_interest": "16.23",
        "to_principal": "283.77",
        "to_indemnity": "0.00",
        "excess": "0.00",
    }
    (task,) = [t for t in list_tasks(engine_for(worker.database_url), today=date(2026, 6, 19)) if t.kind != "phone"]
    with Session(engine_for(worker.database_url)) as session:  # the ledger knows where each document is
        documents = session.execute(select(Document.step_id, Document.kind, Document.path).order_by(Document.id)).all()
    assert documents == [
        ("formal-notice", "formal_notice", status.formal_notice.document),
        ("injonction", "injonction_dossier", status.court.dossier),
    ]
    assert (task.kind, task.assignee, task.invoice_id) == ("file_injonction", "legal", "LEG-B2B")

    # the court's outcomes, then payment in full: principal, interest and indemnity
    await case.advance_to(paris(2026, 6, 26, 12))
    await case.update("court_order_issued", {"issued_on": "2026-06-25", "reference": "IP-2026-118"})
    await case.advance_to(paris(2026, 7, 3, 12))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await case.update("opposition_filed", {"filed_on": "2026-07-03"})
    assert "an opposition needs a served order" in str(refused.value.cause)
    status = await case.update("order_served", {"served_on": "2026-07-02"})
    assert status.court.status == "order_served"
    status = await case.update("judgment_paid", {"amount": "1009.77", "paid_on": "2026-07-03", "reference": "CDJ-1"})
    assert (status.outcome, status.balance, status.overpaid) == ("paid", Decimal("0"), Decimal("59.77"))


async def test_b2c_invoice_to_formal_notice_and_agency_until_its_final_report(open_case, worker, tmp_path):
    customer = {"kind": "consumer", "name": "Claire Dubois", "id": "P-DUBOIS"}
    case = await open_case(
        invoice(
            "LEG-B2C",
            amount="189.90",
            due=date(2026, 3, 31),
            kind="consumer",
            customer=customer,
            starts_at=paris(2026, 3, 20, 8),
        )
    )
    status = await case.advance_to(paris(2026, 5, 11, 12))
    assert (status.policy, status.steps[-1].step_id, status.stage) == ("consumer@v3", "formal-notice", "formal_notice")
    letter = pdf_text(status.formal_notice.document)
    assert "Aucun intérêt n'est compté avant la mise en demeure" in letter
    assert "Total dû au 11/05/2026 189,90 €" in letter
    assert "Indemnité forfaitaire" not in letter  # never for a consumer (CPCE L111-8)
    assert "injonction de payer devant le tribunal judiciaire" in letter
    assert status.limitation_date == date(2028, 3, 31)

    await case.advance_to(paris(2026, 5, 14, 12))
    status = await case.update("registered_letter_delivered", {"tracking_number": "2C", "delivered_on": "2026-05-13"})
    assert (status.formal_notice.deadline, status.next_step.id, minute(status.next_step.at)) == (
        date(2026, 5, 28),
        "agency",
        paris(2026, 6, 1, 10),
    )
    status = await case.advance_to(paris(2026, 6, 1, 12))
    assert (status.stage, status.agency.agency, status.agency.mandate_reference) == (
        "agency",
        "recouvra-sud",
        "MANDAT-2026-017",
    )
    case_file = json.loads((tmp_path / "agency-outbox" / "invoice-LEG-B2C.json").read_text())
    assert case_file["debt"] == {
        "currency": "EUR",
        "principal": "189.90",
        "interest": "0.26",
        "other": "0.00",
        "total": "190.16",
    }
    assert case_file["mandate_reference"] == "MANDAT-2026-017"
    assert list(case_file["documents"]) == ["mise_en_demeure.pdf"]

    await case.advance_to(paris(2026, 6, 21, 12))
    status = await case.update(
        "agency_update", {"status": "payment received", "collected_amount": "100.00", "reported_on": "2026-06-10"}
    )
    assert (status.balance, status.agency.collected, status.agency.commission) == (
        Decimal("89.90"),
        Decimal("100.00"),
        Decimal("12.00"),
    )
    assert status.payments[-1].reference == "recouvra-sud-report-1"
    status = await case.update(
        "agency_update", {"status": "debtor insolvent", "reported_on": "2026-06-20", "final": True}
    )
    assert (status.outcome, status.state) == ("agency_closed", "closed")
    assert status.history[-1].detail == (
        "recouvra-sud closed the file (debtor insolvent): collected 100.00 EUR, commission 12.00 EUR, "
        "89.90 EUR unrecovered"
    )


async def test_a_returned_letter_waits_for_a_new_address_and_is_sent_again(open_case, worker):
    case = await open_case(invoice("LEG-NPAI", due=date(2026, 3, 2), starts_at=paris(2026, 4, 20, 8)))
    status = await case.advance_to(paris(2026, 4, 21, 12))
    assert status.formal_notice is not None
    status = await case.update("mail_returned", {"reason": "NPAI", "returned_on": "2026-04-21"})
    assert (status.flags.address_invalid, status.waiting_for) == (
        "NPAI",
        "a new address: the formal notice came back (NPAI)",
    )
    new_address = {"line1": "5 avenue Foch", "postal_code": "69006", "city": "Lyon", "country": "FR"}
    status = await case.update("contact_updated", {"address": new_address})
    assert (status.formal_notice, status.flags.address_invalid) == (None, None)
    status = await case.advance_to(paris(2026, 4, 23, 12))  # 3 days after the first letter, at the earliest
    sent = [s for s in status.steps if s.step_id == "formal-notice"]
    assert [s.status for s in sent] == ["done", "done"]
    assert "5 avenue Foch" in pdf_text(status.formal_notice.document)


async def test_an_agency_without_mandate_is_refused(open_case, worker):
    policy_file = worker.policy_dir / "consumer.yaml"
    data = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
    del data["legal"]["agency"]["mandate_reference"]
    policy_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    customer = {"kind": "consumer", "name": "Jean Petit", "id": "P-PETIT"}
    case = await open_case(
        invoice(
            "LEG-NOMANDATE",
            amount="75.50",
            due=date(2026, 3, 31),
            kind="consumer",
            customer=customer,
            starts_at=paris(2026, 3, 20, 8),
        )
    )
    await case.advance_to(paris(2026, 5, 13, 12))
    await case.update("registered_letter_delivered", {"tracking_number": "3D", "delivered_on": "2026-05-12"})
    status = await case.advance_to(paris(2026, 6, 1, 12))
    (refusal,) = [s for s in status.steps if s.step_id == "agency"]
    assert (refusal.status, refusal.detail) == (
        "failed",
        "hand-off to recouvra-sud refused: no written mandate reference (CPCE R124-3)",
    )
    assert status.agency is None and status.stage == "formal_notice"


async def test_escalation_is_refused_once_the_claim_is_time_barred(open_case, worker):
    """A consumer debt due 15/01/2024 is time-barred on 15/01/2026 (2 years, C. conso L218-2)."""
    customer = {"kind": "consumer", "name": "Jean Petit", "id": "P-PETIT"}
    case = await open_case(
        invoice(
            "LEG-OLD",
            amount="500.00",
            due=date(2024, 1, 15),
            kind="consumer",
            customer=customer,
            starts_at=paris(2026, 4, 20, 8),
        )
    )
    status = await case.advance_to(paris(2026, 4, 21, 12))
    assert status.limitation_date == date(2026, 1, 15)
    assert [(s.step_id, s.status, s.detail) for s in status.steps if s.step_id in ("formal-notice", "agency")] == [
        (
            "formal-notice",
            "skipped",
            "escalation refused: the claim is time-barred since 2026-01-15 (limitation period)",
        ),
        ("agency", "skipped", "escalation refused: the claim is time-barred since 2026-01-15 (limitation period)"),
    ]


async def test_a_case_waits_for_a_missing_rate_with_a_task_and_goes_on_once_the_rates_are_entered(open_case, worker):
    """Due 10/06/2026: the notice (15/07) needs the 2026-H2 rates, which the shipped file does not have. The
    case does not fail the step: a person gets a task naming the rate, and the case tries again each day; once
    `relance rates update` (the recorded ECB answer) and `set-legal` have run, the notice leaves by itself."""
    case = await open_case(invoice("LEG-NORATE", due=date(2026, 6, 10), starts_at=paris(2026, 6, 1, 8)))
    status = await case.advance_to(paris(2026, 8, 3, 12))
    (task,) = [t for t in list_tasks(engine_for(worker.database_url), today=date(2026, 8, 3)) if t.kind == "add_rate"]
    assert (task.assignee, task.invoice_id) == ("legal", "LEG-NORATE")
    assert "relance rates update" in task.script and "relance rates set-legal" in task.script
    missing = (
        "statement of account impossible: no ECB main refinancing rate known for 2026-07-01 (the rate table is "
        f"known through 2026-01-01): add the rate in force to the rates file (task #{task.id} for legal)"
    )
    assert [s.step_id for s in status.steps if s.step_id in ("formal-notice", "injonction")] == []
    assert status.waiting_for == f"a missing interest rate, tried again each day: {missing}"
    assert (status.next_step.kind, status.next_step.id, status.next_step.at) == (
        "step",
        "formal-notice",
        paris(2026, 8, 4, 9),
    )
    waits = [h.detail for h in status.history if h.event == "waiting_for_rate"]
    assert waits == [f"formal-notice: {missing}; tried again each day"]  # once, not once a day

    ecb = RecordingEndpoint(default=Reply(status=200, text=ECB_ANSWER, content_type="text/csv"))
    try:
        for args in (["update"], ["set-legal", "2026-H2", "--private", "6.40", "--other", "2.50", "--source", "t"]):
            done = await asyncio.to_thread(rates_command, worker.rates_file, ecb.url, *args)
            assert done.returncode == 0, done.stderr
    finally:
        ecb.close()
    status = await case.advance_to(paris(2026, 8, 4, 12))
    notices = [(s.status, s.at.date()) for s in status.steps if s.step_id == "formal-notice"]
    assert notices == [("done", date(2026, 8, 4))]
    assert status.waiting_for == "proof of delivery of the formal notice (registered_letter_delivered)"
    assert "Intérêts du 11/06/2026 au 30/06/2026 : 20 j à 12,15 %" in pdf_text(status.formal_notice.document)
    assert "Intérêts du 01/07/2026 au 04/08/2026 : 35 j à 12,15 %" in pdf_text(status.formal_notice.document)
    (closed,) = [
        t for t in list_tasks(engine_for(worker.database_url), today=date(2026, 8, 4), due="all") if t.id == task.id
    ]
    assert (closed.status, closed.outcome) == ("done", "done")


@pytest.mark.parametrize(
    ("kind", "total", "small_claims", "expected"),
    [
        ("business", "4000.00", False, ("injonction_de_payer", "tribunal de commerce")),
        ("consumer", "4000.00", False, ("injonction_de_payer", "tribunal judiciaire")),
        ("business", "5000.00", True, ("small_claims", SMALL_CLAIMS)),  # up to 5000 interest included
        ("business", "5000.01", True, ("injonction_de_payer", "tribunal de commerce")),
        ("consumer", "120.00", True, ("small_claims", SMALL_CLAIMS)),
    ],
)
def test_court_for_a_claim(kind, total, small_claims, expected):
    assert court_for(kind, Decimal(total), small_claims) == expected


@pytest.fixture
def agency_endpoint() -> Iterator[RecordingEndpoint]:
    endpoint = RecordingEndpoint()
    yield endpoint
    endpoint.close()


def http_agency(url: str) -> Agency:
    return Agency.model_validate(
        {
            "name": "recouvra-nord",
            "mandate_reference": "M-9",
            "commission_rate": "10",
            "delivery": {"kind": "http", "url": url},
        }
    )


def test_agency_case_file_is_posted_with_its_idempotency_key(agency_endpoint):
    agency_endpoint.default = Reply(status=201, body={"id": "AG-77"})
    sent = deliver_case_file(http_agency(agency_endpoint.url + "/cases"), "invoice-X", "invoice-X:agency", {"a": 1})
    assert sent == "http:AG-77"
    (request,) = agency_endpoint.requests
    assert (request.path, request.headers["Idempotency-Key"], request.body) == ("/cases", "invoice-X:agency", {"a": 1})


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, DeliveryRefused, 'recouvra-nord answered 400: {"error": "no"}'),
        (429, DeliveryFailed, 'recouvra-nord answered 429: {"error": "no"}'),
        (503, DeliveryFailed, 'recouvra-nord answered 503: {"error": "no"}'),
    ],
)
def test_agency_refusals_and_failures(agency_endpoint, status, error, message):
    agency_endpoint.default = Reply(status=status, body={"error": "no"})
    with pytest.raises(error, match=re.escape(message)):
        deliver_case_file(http_agency(agency_endpoint.url), "invoice-X", "invoice-X:agency", {})


def test_an_unreachable_agency_is_a_failure_worth_retrying():
    with pytest.raises(DeliveryFailed, match="recouvra-nord unreachable"):
        deliver_case_file(http_agency("http://127.0.0.1:9"), "invoice-X", "invoice-X:agency", {})


async def test_a_person_is_warned_before_the_claim_is_time_barred(open_case, worker):
    """Consumer debt due 01/06/2024: time-barred on 01/06/2026; the policy warns 90 days before, on 03/03/2026."""
    customer = {"kind": "consumer", "name": "Jean Petit", "id": "P-PETIT"}
    case = await open_case(
        invoice(
            "LEG-WARN",
            amount="500.00",
            due=date(2024, 6, 1),
            kind="consumer",
            customer=customer,
            starts_at=paris(2026, 2, 20, 8),
        )
    )
    status = await case.advance_to(paris(2026, 3, 2, 12))
    assert (status.next_step.kind, minute(status.next_step.at)) == ("limitation_warning", paris(2026, 3, 3))
    status = await case.advance_to(paris(2026, 3, 3, 12))
    (warning,) = [h for h in status.history if h.event == "limitation_warning"]
    assert warning.detail.startswith("the claim is time-barred on 2026-06-01: phone task #")
    tasks = [t for t in list_tasks(engine_for(worker.database_url), today=date(2026, 3, 3)) if t.assignee == "legal"]
    assert [t.script.splitlines()[0] for t in tasks] == [
        "Prescription proche : Jean Petit, facture LEG-WARN, 500,00\xa0€"
    ]
    assert "sera prescrite le 1 juin 2026" in tasks[0].script
    # a part payment is an acknowledgement: limitation restarts, and so will the warning
    status = await case.update("payment_received", {"amount": "100.00", "paid_on": "2026-03-03", "reference": "P1"})
    assert (status.limitation_date, status.next_step.id, minute(status.next_step.at)) == (
        date(2028, 3, 3),
        "limitation-2028-03-03",
        paris(2027, 12, 4),
    )


async def test_a_key_account_small_claim_takes_the_simplified_route(open_case, worker):
    """key-accounts: small_claims on; 2000.00 due 15/01/2026, dossier on 07/04 (5 April is Easter Sunday,
    6 April Easter Monday): 82 days at 12.15 % = 54.5918 -> 54.59; total 2094.59, under 5000."""
    customer = {"segment": "key-account", "name": "Globex Europe BV", "id": "C-GLOBEX"}
    case = await open_case(
        invoice("LEG-KEY", amount="2000.00", due=date(2026, 1, 15), customer=customer, starts_at=paris(2026, 1, 10, 8))
    )
    status = await case.advance_to(paris(2026, 3, 18, 12))
    assert [(s.step_id, s.status) for s in status.steps][-3:] == [
        ("final-reminder", "done"),
        ("account-manager-call-2", "done"),
        ("formal-notice", "done"),
    ]
    status = await case.update("registered_letter_delivered", {"tracking_number": "4K", "delivered_on": "2026-03-17"})
    assert (status.formal_notice.deadline, minute(status.next_step.at)) == (date(2026, 4, 1), paris(2026, 4, 7, 10))
    original = worker.documents_dir / "einvoices" / "LEG-KEY.pdf"  # as an e-invoice's import keeps its PDF
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(b"%PDF-1.7 the invoice as issued")
    with Session(engine_for(worker.database_url)) as session, session.begin():
        session.add(Document(case_id="invoice-LEG-KEY", step_id="import", kind="invoice", path=str(original),
                             created_at=paris(2026, 1, 10, 8)))  # fmt: skip
    status = await case.advance_to(paris(2026, 4, 7, 12))
    assert (status.court.route, status.court.court) == ("small_claims", SMALL_CLAIMS)
    with zipfile.ZipFile(status.court.dossier) as bundle:
        request = json.loads(bundle.read("LEG-KEY/requete.json"))
        summary = bundle.read("LEG-KEY/synthese.pdf")
        attached = bundle.read("LEG-KEY/facture.pdf")
    assert attached == b"%PDF-1.7 the invoice as issued"  # the imported original goes with the dossier
    assert (request["route"], request["amounts"]["interest"], request["amounts"]["total"]) == (
        "small_claims",
        "54.59",
        "2094.59",
    )
    summary_path = Path(status.court.dossier).with_suffix("") / "synthese.pdf"
    assert summary_path.read_bytes() == summary
    assert "Procédure simplifiée de recouvrement des petites créances — dossier" in pdf_text(summary_path)
    listed = " ".join(pdf_text(summary_path).split())
    assert "facture.pdf (facture LEG-KEY, reçue comme facture électronique)" in listed


async def test_an_agency_reached_over_http_gets_the_case_file_once(open_case, worker, agency_endpoint):
    agency_endpoint.default = Reply(status=201, body={"id": "AG-1"})
    policy_file = worker.policy_dir / "consumer.yaml"
    data = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
    data["legal"]["agency"]["delivery"] = {"kind": "http", "url": agency_endpoint.url + "/cases"}
    policy_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    customer = {"kind": "consumer", "name": "Claire Dubois", "id": "P-DUBOIS"}
    case = await open_case(
        invoice(
            "LEG-HTTP",
            amount="189.90",
            due=date(2026, 3, 31),
            kind="consumer",
            customer=customer,
            starts_at=paris(2026, 3, 20, 8),
        )
    )
    await case.advance_to(paris(2026, 5, 14, 12))
    await case.update("registered_letter_delivered", {"tracking_number": "5H", "delivered_on": "2026-05-13"})
    status = await case.advance_to(paris(2026, 6, 3, 12))
    assert (status.stage, status.agency.delivery_id) == ("agency", "http:AG-1")
    (posted,) = agency_endpoint.requests
    assert (posted.path, posted.headers["Idempotency-Key"]) == ("/cases", "invoice-LEG-HTTP:agency")
    assert (posted.body["mandate_reference"], posted.body["debt"]["total"]) == ("MANDAT-2026-017", "190.16")
