"""The debtor's own page (issue "The debtor's own page", items 1 and 2 in part): a signed link opens one
customer's open invoices, what is left, the total and how to pay, in French or English; an altered, expired or
withdrawn link opens nothing and says why; no staff token is needed, and nothing of another customer shows."""

import asyncio
import io
import re
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default

import httpx
import itsdangerous.timed
import pytest
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy.orm import Session

from relance.api.app import api_app
from relance.api.portal import _months_after
from relance.domain.money import format_money
from relance.domain.portal_links import sign_link
from relance.domain.task_outcome import TaskOutcome
from relance.ledger.db import PortalShortLink, engine_for
from relance.ledger.mandates import list_mandates
from relance.ledger.portal import revoke_links, short_link
from relance.ledger.reports import build_report
from relance.ledger.work_queue import TaskError, list_tasks
from starter.statements import statement_at
from starter.tasks import finish_task
from tests.builders import ROOT, invoice, paris

START = paris(2026, 4, 20, 8)
SECRET = "portal-secret-0123456789"


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={
            "portal_secret": SecretStr(SECRET),
            "portal_days": 30,
            "creditor_iban": "FR7630004000031234567890143",
            "public_url": "https://relance.vendor.example",
            "rates_file": ROOT / "samples" / "demo-rates.yaml",  # covers today: the penalties can be priced
            "sepa_creditor_id": "FR12ZZZ123456",
        }
    )


async def test_a_link_opens_the_customers_invoices_and_nothing_else(env, open_case, worker, monkeypatch):
    await open_case(invoice("PT-1", amount="1250.00", starts_at=START))
    await open_case(invoice("PT-2", amount="300.00", due=date(2026, 5, 20), starts_at=START))
    await open_case(invoice("PT-OTHER", customer={"id": "C-OTHER", "name": "Autre SA"}, starts_at=START))

    async def client():
        return env.client

    link = sign_link(SECRET, "C-ACME")
    first = await open_case(invoice("PT-3", amount="10.00", due=date(2026, 4, 21), starts_at=START))
    await first.advance_to(paris(2026, 4, 22, 12))  # its first reminder left, with the link to the page
    mail = message_from_bytes((worker.outbox_dir / "invoice-PT-3_reminder-1.eml").read_bytes(), policy=default)
    (sent_link,) = re.findall(r"https://relance\.vendor\.example(/portal/\S+)", mail.get_content())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        from_mail = await http.get(sent_link)  # the link as the debtor received it
        assert from_mail.status_code == 200 and "PT-3" in from_mail.text
        page = await http.get(f"/portal/{link}")
        assert page.status_code == 200, page.text
        html = page.text
        assert "Bonjour ACME SAS" in html and "PT-1" in html and "PT-2" in html
        assert "PT-OTHER" not in html and "Autre SA" not in html  # only this customer's invoices
        assert '<td data-stage="reminder">relancée</td>' in html  # where each stands, in the debtor's words
        assert '<th class="opt">Émise le</th>' in html
        # each invoice's penalties and indemnity today, as its statement of account prices them, in the total
        owed = {}
        for invoice_id in ("PT-1", "PT-2", "PT-3"):
            status, result = await statement_at(env.client, invoice_id, date.today(), worker.rates_file)
            owed[invoice_id] = (status.balance, result.interest_due + result.indemnity_due)
        assert owed["PT-1"][1] >= Decimal("40.00")  # at least the recovery indemnity of a business debtor
        assert format_money(owed["PT-1"][1], "EUR", "fr") in html
        total = sum((balance + penalties for balance, penalties in owed.values()), Decimal("0"))
        assert f"Total à régler : {format_money(total, 'EUR', 'fr')}" in html
        assert "FR7630004000031234567890143" in html and "compta@acme.example" not in html
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert page.headers["referrer-policy"] == "no-referrer"
        pdf = await http.get(f"/portal/{link}/statement/PT-1.pdf")
        assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Décompte de la facture PT-1" in text and format_money(sum(owed["PT-1"]), "EUR", "fr") in text
        foreign = await http.get(f"/portal/{link}/statement/PT-OTHER.pdf")
        assert foreign.status_code == 404  # another customer's invoice, even named in the URL
        english = await http.get(f"/portal/{link}?lang=en")
        assert "Your invoices" in english.text and format_money(total, "EUR", "en") in english.text

        # one character of what the link says changed (the signature's last characters carry spare bits that
        # base64 ignores, so changing those alone may leave the same signature)
        altered = await http.get(f"/portal/{'B' if link[0] == 'A' else 'A'}{link[1:]}")
        assert (altered.status_code, 'data-refusal="invalid"' in altered.text) == (404, True)

        real = time.time
        monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 31 * 86400)
        old = sign_link(SECRET, "C-ACME")
        monkeypatch.setattr(itsdangerous.timed.time, "time", real)
        expired = await http.get(f"/portal/{old}")
        assert (expired.status_code, "Ce lien a expiré." in expired.text) == (410, True)
        # the expired page offers a fresh link: e-mailed to the address on file, once a day, never to the reader
        (fresh_form,) = re.findall(r'name="form" value="([^"]+)"', expired.text)
        for _ in range(2):
            asked = await http.post(f"/portal/{old}/fresh", data={"form": fresh_form})
            assert asked.headers["location"] == f"/portal/{old}?said=fresh_sent&lang=fr"
        said = await http.get(asked.headers["location"])
        assert "un nouveau lien vient d&#39;y être envoyé" in said.text and "compta@acme.example" not in said.text
        notice = env.client.get_workflow_handle(f"notice-fresh-C-ACME-{date.today().isoformat()}")
        assert (await notice.result()).startswith("sent: Votre lien vers vos factures to compta@acme.example")
        (sent,) = [p for p in worker.outbox_dir.glob("notice*.eml")]  # asked twice, sent once
        fresh_mail = message_from_bytes(sent.read_bytes(), policy=default)
        assert fresh_mail["To"] == "ACME SAS <compta@acme.example>"
        (fresh_link,) = re.findall(r"https://relance\.vendor\.example(/portal/\S+)", fresh_mail.get_content())
        assert (await http.get(fresh_link)).status_code == 200
        forged = await http.post(f"/portal/{old}/fresh", data={"form": "x"})
        assert forged.status_code == 403

        engine = engine_for(worker.database_url)
        code = short_link(engine, "C-ACME", "en", 30)  # an SMS's or a letter's link
        assert short_link(engine, "C-ACME", "en", 30) == code  # a retried step prints the same
        assert "Your invoices" in (await http.get(f"/p/{code}", follow_redirects=True)).text
        with Session(engine) as session, session.begin():  # made 31 days ago: past RELANCE_PORTAL_DAYS
            session.add(PortalShortLink(code="a" * 12, customer_id="C-ACME", lang="fr",
                                        created_at=datetime.now(UTC) - timedelta(days=31)))  # fmt: skip
        old_short = await http.get(f"/portal/{'a' * 12}")
        assert (old_short.status_code, 'data-refusal="expired"' in old_short.text) == (410, True)
        assert 'action="/portal/aaaaaaaaaaaa/fresh"' in old_short.text  # a fresh one may be asked for here too

        revoke_links(engine, "C-ACME")
        withdrawn = await http.get(f"/portal/{link}")
        assert (withdrawn.status_code, "Ce lien a été retiré." in withdrawn.text) == (410, True)
        assert (await http.get(f"/portal/{code}")).status_code == 410  # short links are withdrawn with the rest
        assert short_link(engine, "C-ACME", "en", 30) != code  # the next message brings a new one
        assert (await http.get(f"/portal/{short_link(engine, 'C-ACME', 'en', 30)}")).status_code == 200
        assert "prochain message" in withdrawn.text  # a fresh link comes to the address on file, never typed here


async def test_the_debtor_promises_disputes_and_says_paid_on_the_page(env, open_case, worker):
    cases = {n: await open_case(invoice(f"PA-{n}", starts_at=START)) for n in (1, 2, 3)}
    await open_case(invoice("PA-OTHER", customer={"id": "C-OTHER", "name": "Autre SA"}, starts_at=START))

    async def client():
        return env.client

    engine = engine_for(worker.database_url)
    link = sign_link(SECRET, "C-ACME")
    transport = httpx.ASGITransport(app=api_app(worker, client), client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        page = await http.get(f"/portal/{link}")
        (form,) = set(re.findall(r'name="form" value="([^"]+)"', page.text))
        today = date.today()

        async def post(what: str, **fields: str) -> httpx.Response:
            return await http.post(f"/portal/{link}/{what}", data={"form": form, **fields})

        promised = await post("promise", invoice="PA-1", on=(today + timedelta(days=7)).isoformat())
        assert (promised.status_code, promised.headers["location"]) == (303, f"/portal/{link}?said=done")
        assert "Merci, c&#39;est noté." in (await http.get(promised.headers["location"])).text  # escaped
        far = await post("promise", invoice="PA-1", on=(today + timedelta(days=90)).isoformat())
        assert far.headers["location"] == f"/portal/{link}?said=to_person"  # beyond what the page accepts alone
        again = await post("promise", invoice="PA-1", on=(today + timedelta(days=10)).isoformat())
        assert again.headers["location"].endswith("?said=done")  # the policy's second promise
        third = await post("promise", invoice="PA-1", on=(today + timedelta(days=12)).isoformat())
        assert third.headers["location"].endswith("?said=to_person")  # one promise too many for the page alone
        quote = ("devis.pdf", b"%PDF-1.4 the quote", "application/pdf")
        disputed = await http.post(
            f"/portal/{link}/dispute",
            data={"form": form, "invoice": "PA-2", "cause": "billing_error", "details": "prix non conforme au devis"},
            files=[("papers", quote)],
        )
        assert disputed.headers["location"].endswith("?said=done")
        proofs = [("proof", ("virement.pdf", b"%PDF-1.7 transfer", "application/pdf"))]
        forged = [("proof", ("photo.png", b"MZ not an image", "image/png"))]  # what it claims is not what it is
        paid = await http.post(
            f"/portal/{link}/paid",
            data={"form": form, "invoice": "PA-3", "paid_on": today.isoformat(), "reference": "VIR-778",
                  "amount": "1 250,00"},
            files=proofs + forged,
        )  # fmt: skip
        assert paid.headers["location"].endswith("?said=done")

        forged = await http.post(f"/portal/{link}/promise", data={"form": "x", "invoice": "PA-1", "on": "2027-01-05"})
        assert forged.status_code == 403  # a form not served by this link's page
        foreign = await post("promise", invoice="PA-OTHER", on=(today + timedelta(days=7)).isoformat())
        assert foreign.status_code == 404  # another customer's invoice cannot be reached with this link
        for _ in range(15):
            await post("promise", invoice="PA-OTHER", on="2027-01-05")
        assert (await post("promise", invoice="PA-OTHER", on="2027-01-05")).status_code == 429
        await asyncio.sleep(1)  # a fresh link (signed a second later) from the same address: its quota is spent
        other_link = sign_link(SECRET, "C-ACME")
        (other_form,) = set(re.findall(r'name="form" value="([^"]+)"', (await http.get(f"/portal/{other_link}")).text))
        again = await http.post(
            f"/portal/{other_link}/promise", data={"form": other_form, "invoice": "PA-1", "on": "2027-01-05"}
        )
        assert (other_link != link, again.status_code) == (True, 429)

    first, second, third = [await cases[n].status() for n in (1, 2, 3)]
    assert (first.stage, first.history[-1].by) == ("promise_to_pay", "debtor (203.0.113.7)")
    assert second.stage == "disputed"
    (paper,) = re.findall(r"\(papers: (portal/\w+/devis\.pdf)\)", second.pause_reason)
    assert second.pause_reason == f"dispute: erreur de facturation: prix non conforme au devis (papers: {paper})"
    assert (worker.documents_dir / paper).read_bytes() == b"%PDF-1.4 the quote"
    assert third.stage == "paused" and third.paused_until == today + timedelta(days=5)
    (proof,) = re.findall(r"proof (portal/\w+/virement\.pdf)", third.pause_reason)
    assert third.pause_reason == f"the debtor says it was paid on {today}, 1250.00, ref. VIR-778, proof {proof}"
    assert not list(worker.documents_dir.glob("portal/*/photo.png"))
    tasks = [t.script.splitlines()[0] for t in list_tasks(engine, today=today) if t.kind == "portal"]
    assert len(tasks) == 4 and any(f"on {today + timedelta(days=90)}, more than 30 days ahead" in t for t in tasks)
    assert any(f"on {today + timedelta(days=12)}, after 2 promises on this invoice" in t for t in tasks)
    assert any("check the bank by" in t for t in tasks)
    (sales,) = [t for t in list_tasks(engine, today=today, assignee="sales") if t.kind == "portal"]
    assert sales.invoice_id == "PA-2" and f"- kept: {paper}" in sales.script  # sales is told, with the papers
    (bank,) = [t for t in list_tasks(engine, today=today) if "check the bank" in t.script]
    assert "- refused: photo.png: its bytes are not image/png" in bank.script
    # `relance report` counts what debtors settled themselves on the page
    solved = build_report(engine, today).solved_on_page
    assert solved == {"promises": 2, "plans": 0, "disputes": 1, "said paid": 1, "details": 0}

    # a person answers the requests the page could not agree to alone: the debtor reads it there and by e-mail
    asked = {t.script.splitlines()[0]: t for t in list_tasks(engine, today=today) if t.request is not None}
    (too_far,) = [t for line, t in asked.items() if "more than 30 days ahead" in line]
    (too_many,) = [t for line, t in asked.items() if "after 2 promises" in line]
    with pytest.raises(TaskError, match="outcome accepted needs a task holding a debtor's request"):
        paid_task = next(t for t in list_tasks(engine, today=today) if t.kind == "portal" and t.request is None)
        await finish_task(engine, env.client, paid_task.id, TaskOutcome(outcome="accepted"), "anne", today, "unused")
    declined = TaskOutcome(outcome="declined", note="Nous ne pouvons pas attendre 90 jours ; 30 au plus.")
    await finish_task(engine, env.client, too_far.id, declined, "anne", today, worker.task_queue)
    accepted = await finish_task(
        engine, env.client, too_many.id, TaskOutcome(outcome="accepted"), "anne", today, worker.task_queue
    )
    assert accepted is not None and accepted.history[-1].by == "anne"
    assert accepted.history[-1].event == "promise_to_pay"
    assert accepted.history[-1].detail.endswith(str(today + timedelta(days=12)))
    answers = {}
    for task in (too_far, too_many):
        handle = env.client.get_workflow_handle(f"notice-answer-{task.id}")
        assert (await handle.result()).startswith("sent: Facture PA-1 : réponse à votre demande")
        answers[task.id] = message_from_bytes(
            (worker.outbox_dir / f"notice_answer-{task.id}.eml").read_bytes(), policy=default
        ).get_content()
    assert "nous ne pouvons pas l'accepter" in answers[too_far.id]
    assert "Nous ne pouvons pas attendre 90 jours ; 30 au plus." in answers[too_far.id]
    assert "(promesse de paiement) a été examinée" in answers[too_many.id]
    assert "elle est acceptée" in answers[too_many.id]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        shown = (await http.get(f"/portal/{link}")).text
    assert shown.count('data-request="declined"') == 1 and shown.count('data-request="accepted"') == 1
    assert "Nous ne pouvons pas attendre 90 jours ; 30 au plus." in shown


async def test_the_debtor_proposes_a_plan_and_corrects_their_details_on_the_page(env, open_case, worker):
    cases = {n: await open_case(invoice(f"PP-{n}", amount="1000.00", starts_at=START)) for n in (1, 2)}

    async def client():
        return env.client

    engine = engine_for(worker.database_url)
    link = sign_link(SECRET, "C-ACME")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        (form,) = set(re.findall(r'name="form" value="([^"]+)"', (await http.get(f"/portal/{link}")).text))
        first = (date.today() + timedelta(days=10)).isoformat()
        within = await http.post(
            f"/portal/{link}/plan", data={"form": form, "invoice": "PP-1", "months": "3", "first": first}
        )
        assert within.headers["location"].endswith("?said=done")
        beyond = await http.post(
            f"/portal/{link}/plan", data={"form": form, "invoice": "PP-2", "months": "24", "first": first}
        )
        assert beyond.headers["location"].endswith("?said=to_person")  # more installments than the policy allows
        moved = {"form": form, "email": "factures@acme.example", "line1": "8 quai Saint-Antoine",
                 "postal_code": "69002", "city": "Lyon"}  # fmt: skip
        assert (await http.post(f"/portal/{link}/details", data=moved)).headers["location"].endswith("?said=done")
        mandate = {"form": form, "holder": "ACME SAS", "iban": "FR76 3000 6000 0112 3456 7890 189", "agree": "yes"}
        signed = await http.post(f"/portal/{link}/mandate", data=mandate)
        assert signed.headers["location"].endswith("?said=mandate_kept")
        bad = await http.post(f"/portal/{link}/mandate", data={**mandate, "iban": "FR76 0000"})
        assert bad.headers["location"].endswith("?said=bad_iban")
        unagreed = await http.post(f"/portal/{link}/mandate", data={**mandate, "agree": ""})
        assert unagreed.headers["location"].endswith("?said=refused")
    (kept,) = list_mandates(engine, "C-ACME")
    assert (kept.iban, kept.debtor_name, kept.umr.startswith("RUM-C-ACME-")) == (
        "FR7630006000011234567890189",
        "ACME SAS",
        True,
    )
    assert kept.created_by is not None and kept.created_by.startswith("debtor (")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        shown = (await http.get(f"/portal/{link}?lang=en")).text
    (schedule,) = re.findall(
        r'<section class="panel" data-part="plan" data-invoice="PP-1">(.*?)</section>', shown, re.S
    )
    assert re.findall(r'data-installment="(\w+)"', schedule) == ["due", "due", "due"]
    assert "€333.34" in schedule and "Agreed payment plan" in schedule
    planned, other = [await cases[n].status() for n in (1, 2)]
    assert planned.stage == "payment_plan"
    (agreed,) = [h for h in planned.history if h.event == "payment_plan_agreed"]
    start = date.today() + timedelta(days=10)
    schedule = ", ".join(f"{a} on {_months_after(start, n)}" for n, a in enumerate(("333.33", "333.33", "333.34")))
    assert agreed.detail == f"payment plan of 3: {schedule}"
    assert other.stage != "payment_plan"
    for status in (planned, other):
        assert status.customer_email == "factures@acme.example"
    tasks = [t.script for t in list_tasks(engine, today=date.today()) if t.kind == "portal"]
    assert len(tasks) == 1 and "a payment plan of 24 installments, more than the 6 the page agrees to" in tasks[0]
