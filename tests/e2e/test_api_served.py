"""`relance serve` as a process (issue: an HTTP API with access levels), on a dev server with a worker and the
SQLite ledger, or PostgreSQL when RELANCE_TEST_POSTGRES_URL is set (CI): a token made with `relance token
create` and used with curl, idempotent batch creation, case search through visibility, an ops action, and the
sales page in Debian's Chromium (Playwright), in French and English."""

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright
from sqlalchemy import text

from relance.ledger.db import engine_for
from relance.settings import Settings
from relance.worker_runtime import build_worker
from tests.builders import ROOT, invoice
from tests.conftest import dev_server_environment, postgres_database
from tests.web_ui import CHROMIUM, CHROMIUM_FLAGS, free_port, process

TODAY = date.today()


PORTAL_SECRET = "served-portal-secret-0123456789"


@dataclass
class Served:
    url: str
    env: dict[str, str]  # what a `relance` command needs to reach the same Temporal and ledger
    settings: Settings

    def relance(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relance.cli.main", *args],
            env={**os.environ, **self.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def token(self, role: str, name: str) -> str:
        made = self.relance("token", "create", "--role", role, "--name", name)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip()


@pytest.fixture(scope="module")
def ledger_database(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """PostgreSQL when CI provides one, else SQLite: the API reads and writes the same ledger as the CLI."""
    admin_url = os.environ.get("RELANCE_TEST_POSTGRES_URL")
    if not admin_url:
        yield f"sqlite:///{tmp_path_factory.mktemp('served') / 'relance.db'}"
        return
    with postgres_database(admin_url) as url:
        yield url


@pytest.fixture(scope="module")
async def served(ledger_database: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    scratch = tmp_path_factory.mktemp("served-files")
    port = free_port()
    settings = Settings(
        public_url=f"http://127.0.0.1:{port}",  # the debtor's page: the links in the e-mails point at this server
        portal_secret=PORTAL_SECRET,
        database_url=ledger_database,
        outbox_dir=scratch / "outbox",
        policy_dir=ROOT / "tests" / "policies",  # one reminder at any hour: the suite may run on a Sunday
        task_queue=f"served-{uuid.uuid4().hex[:6]}",
        email_backend="outbox",
        documents_dir=scratch / "documents",
        letter_outbox_dir=scratch / "letters",
    )
    async with dev_server_environment() as environment, build_worker(environment.client, settings):
        env = {
            "RELANCE_PORTAL_SECRET": PORTAL_SECRET,
            "RELANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TEMPORAL_ADDRESS": environment.client.service_client.config.target_host,
            "RELANCE_DATABASE_URL": ledger_database,
            "RELANCE_TASK_QUEUE": settings.task_queue,
            "RELANCE_POLICY_DIR": str(settings.policy_dir),
        }
        serve = [sys.executable, "-m", "relance.cli.main", "serve", "--port", str(port)]
        async with process(serve, port, "relance serve", env):
            yield Served(f"http://127.0.0.1:{port}", env, settings)


def overdue_invoice(invoice_id: str, customer_id: str, name: str, days: int, amount: str) -> dict[str, Any]:
    """An invoice as an ERP posts it: real dates, no demo clock."""
    customer = {"id": customer_id, "name": name, "email": f"compta@{customer_id.lower()}.example"}
    fields = invoice(invoice_id, due=TODAY - timedelta(days=days), customer=customer).model_dump(
        mode="json", exclude_none=True
    )
    fields.pop("clock", None)
    return {**fields, "amount": amount}


BATCH = [
    overdue_invoice("SRV-101", "C-DUPONT", "Atelier Dupont SARL", 45, "4800.00"),
    overdue_invoice("SRV-102", "C-DUPONT", "Atelier Dupont SARL", 12, "1320.50"),
    overdue_invoice("SRV-201", "C-MARTIN", "Martin Frères", 20, "990.00"),
]


async def until(check: Any, what: str, seconds: float = 60) -> Any:
    for _ in range(int(seconds / 0.25)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"never: {what}")


@pytest.fixture(scope="module")
async def portfolio(served: Served) -> str:
    """Dupont: two overdue invoices, a promise on the older one; Martin: a dispute. Returns a collector token."""
    collector = served.token("collector", "ERP Sage")
    async with httpx.AsyncClient(base_url=served.url, headers={"Authorization": f"Bearer {collector}"}) as http:
        created = await http.post("/cases", json={"invoices": BATCH}, timeout=60)
        assert [r["outcome"] for r in created.json()] == ["started"] * 3, created.text

        async def settled() -> bool:
            found = (await http.get("/cases", params={"customer": "C-DUPONT"})).json()
            return sorted(c["invoice_id"] for c in found if c["policy"]) == ["SRV-101", "SRV-102"]

        await until(settled, "visibility lists both Dupont cases with their policy")
        promise = {"promised_on": (TODAY + timedelta(days=7)).isoformat()}
        promised = await http.post("/cases/SRV-101/actions/promise_to_pay", json=promise, timeout=30)
        assert promised.status_code == 200 and promised.json()["stage"] == "promise_to_pay", promised.text
        disputed = await http.post("/cases/SRV-201/actions/dispute_opened", json={"reason": "livraison incomplète"})
        assert disputed.status_code == 200, disputed.text

        # what SendGrid saw of SRV-102's reminder, and the customer's answer (as the webhooks would post them)
        async def reminded() -> str | None:
            steps = (await http.get("/cases/SRV-102")).json()["steps"]
            return next((st["at"] for st in steps if (st["step_id"], st["status"]) == ("reminder-1", "done")), None)

        sent_at = datetime.fromisoformat(await until(reminded, "SRV-102's first reminder to leave"))
        for kind, later in (("delivered", 1), ("open", 6)):  # minutes after it left (case time)
            event = {"kind": kind, "step_id": "reminder-1", "event_id": f"E-{kind}",
                     "at": (sent_at + timedelta(minutes=later)).isoformat()}  # fmt: skip
            seen = await http.post("/cases/SRV-102/actions/email_event", json=event, timeout=30)
            assert seen.status_code == 200, seen.text
        reply = {
            "reply_id": "<r-102@c-dupont.example>",
            "sender": "compta@c-dupont.example",
            "text": "Réglé vendredi.",
            "subject": "Re: Rappel facture SRV-102",
            "received_at": (sent_at + timedelta(minutes=8)).isoformat(),
        }
        replied = await http.post("/cases/SRV-102/actions/reply_received", json=reply, timeout=30)
        assert replied.status_code == 200 and replied.json()["stage"] == "paused", replied.text
    return collector


async def test_a_token_from_the_cli_used_with_curl_searches_and_acts(served, portfolio):
    auth = {"Authorization": f"Bearer {portfolio}"}
    more = [overdue_invoice("SRV-301", "C-BERNARD", "Bernard & Fils", 3, "75.00")]
    # the closing note's example, as an ERP would run it
    curl = ["curl", "-sS", "-X", "POST", f"{served.url}/cases", "-H", f"Authorization: Bearer {portfolio}",
            "-H", "Content-Type: application/json", "--data", json.dumps({"invoices": more})]  # fmt: skip
    first = subprocess.run(curl, capture_output=True, text=True, timeout=60)
    again = subprocess.run(curl, capture_output=True, text=True, timeout=60)
    assert json.loads(first.stdout) == [{"invoice_id": "SRV-301", "outcome": "started", "reason": None}]
    assert json.loads(again.stdout) == [{"invoice_id": "SRV-301", "outcome": "existing", "reason": None}]
    async with httpx.AsyncClient(base_url=served.url, headers=auth, timeout=30) as http:
        large = (await http.get("/cases", params={"min_amount": "1000", "overdue_days": "30"})).json()
        assert [c["invoice_id"] for c in large] == ["SRV-101"]

        async def disputed() -> list[str]:
            return [c["invoice_id"] for c in (await http.get("/cases", params={"disputed": "true"})).json()]

        assert await until(disputed, "visibility shows the dispute") == ["SRV-201"]
        bad = await http.get("/cases", params={"min_amount": "lots"})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("min_amount: ")
        refused = await http.post("/cases/SRV-201/actions/resume", json={})
        assert refused.status_code == 409 and refused.json()["title"] == "Refused by the case"
    with engine_for(served.settings.database_url).connect() as connection:
        kept = connection.execute(text("SELECT action, by FROM rejected_inputs WHERE invoice_id = 'SRV-201'")).all()
    assert [tuple(row) for row in kept] == [("resume", "api:ERP Sage")]

    async def recorded_by() -> list[str]:
        with engine_for(served.settings.database_url).connect() as connection:
            rows = connection.execute(
                text("SELECT e.by FROM case_events e JOIN cases c ON c.case_id = e.case_id "
                     "WHERE c.invoice_id = 'SRV-101' AND e.event = 'promise_to_pay'")
            ).all()  # fmt: skip
        return [row[0] for row in rows]

    # who acted is in the ledger as in the case's history
    assert await until(recorded_by, "the ledger records the promise") == ["api:ERP Sage"]
    listed = served.relance("token", "list", "--json")
    assert ("ERP Sage", "collector") in [(t["name"], t["role"]) for t in json.loads(listed.stdout)]


async def test_the_sales_page_in_a_browser(served, portfolio, tmp_path):
    """A sales person signs in with a token, finds the customer, and reads its standing in French and English.

    The screenshots go to the test's folder; RELANCE_SCREENSHOTS=docs writes the ones kept in docs/."""
    shots = ROOT / "docs" if os.environ.get("RELANCE_SCREENSHOTS") == "docs" else tmp_path
    sales = served.token("sales", "Camille, ventes")
    auth = {"Authorization": f"Bearer {sales}"}
    async with httpx.AsyncClient(base_url=served.url, headers=auth, timeout=30) as http:

        async def ready() -> bool:  # the promise and the reminders are in the ledger
            card = await http.get("/customers/C-DUPONT/standing")
            return card.status_code == 200 and bool(card.json()["arrangements"]) and card.json()["last_contact_at"]

        await until(ready, "the ledger shows Dupont's promise and last contact", 90)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 1000}, locale="fr-FR")
            await page.goto(f"{served.url}/sales")
            assert await page.get_by_role("heading", name="Se connecter").is_visible()
            await page.fill("#token", "rlt_not-a-token")
            await page.click("button[type=submit]")
            assert await page.get_by_role("alert").inner_text() == "Ce jeton est inconnu ou révoqué."
            await page.fill("#token", sales)
            await page.click("button[type=submit]")
            await page.get_by_role("searchbox").fill("dupont")
            await page.keyboard.press("Enter")
            await page.get_by_role("link", name="Atelier Dupont SARL").click()
            await page.get_by_role("heading", name="Atelier Dupont SARL").wait_for()
            french = await page.inner_text("main")
            assert await page.get_attribute("[data-standing]", "data-standing") == "on_hold"  # the customer replied
            assert "Relances suspendues" in french
            exchanges = await page.inner_text("[data-part=conversation]")
            for said in ("délivré", "ouvert", "réponse du client\tRe: Rappel facture SRV-102"):
                assert said in exchanges, exchanges
            assert "Réglé vendredi" not in exchanges  # the reply's subject, never its text
            assert await page.inner_text("[data-fact=overdue]") == "6\u202f120,50\u00a0€"
            assert await page.inner_text("[data-fact=oldest]") == "45 jours"
            assert "Promesse de paiement" in french and "SRV-101" in french and "SRV-102" in french
            assert await page.inner_text("[data-fact=last-contact]") != "aucun"
            assert "compta@c-dupont.example" not in await page.content()
            await page.screenshot(path=str(shots / "sales-page-fr.png"), full_page=True)

            await page.get_by_role("link", name="English").click()
            await page.get_by_role("heading", name="Atelier Dupont SARL").wait_for()
            english = await page.inner_text("main")
            assert "Overdue" in english and "Promise to pay" in english
            assert await page.inner_text("[data-fact=overdue]") == "€6,120.50"
            assert await page.inner_text("[data-fact=oldest]") == "45 days"
            await page.screenshot(path=str(shots / "sales-page-en.png"), full_page=True)

            await page.goto(f"{served.url}/sales?q=martin&lang=en")
            await page.get_by_role("link", name="Martin Frères").click()
            assert await page.get_attribute("[data-standing]", "data-standing") == "disputed"

            assert served.relance("token", "revoke", "Camille, ventes").returncode == 0
            await page.goto(f"{served.url}/sales?lang=en")
            assert await page.get_by_role("heading", name="Sign in").is_visible()
        finally:
            await browser.close()


def test_collectors_tokens_do_not_open_what_sales_may_not_see(served):
    """The page is for sales and above; the API's collector routes stay closed to a sales token."""
    sales = served.token("sales", "Léa, ventes")
    shown = httpx.get(f"{served.url}/cases/SRV-101", headers={"Authorization": f"Bearer {sales}"}, timeout=30)
    assert shown.status_code == 403 and shown.headers["content-type"] == "application/problem+json"
    page = httpx.get(f"{served.url}/sales", cookies={"relance_sales_token": sales}, timeout=30)
    assert page.status_code == 200 and 'role="search"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    forged = httpx.post(f"{served.url}/sales/login", data={"token": sales}, timeout=30)  # from another site
    assert forged.status_code == 403 and "relance_sales_token" not in forged.headers.get("set-cookie", "")
    assert "The form expired" in forged.text or "Le formulaire a expiré" in forged.text


async def test_the_debtor_opens_the_link_of_a_real_e_mail_and_promises_a_date(served, portfolio, tmp_path):
    """The link at the foot of SRV-102's reminder opens Atelier Dupont's page in Chromium, in French and English;
    a promise made there reaches the case; axe-core finds no serious accessibility violation."""
    from axe_playwright_python.async_playwright import Axe

    async def reminded() -> Path | None:
        """SRV-102's reminder alone, or grouped with SRV-101's: since v20 the account sends as soon as both steps
        are in, which may be before the fixture's promise on SRV-101 reaches it."""
        outbox = served.settings.outbox_dir
        found = [outbox / "invoice-SRV-102_reminder-1.eml", *sorted(outbox.glob("customer-C-DUPONT_batch-*.eml"))]
        return next((path for path in found if path.exists()), None)

    mail = message_from_bytes((await until(reminded, "SRV-102's reminder")).read_bytes(), policy=default)
    (link,) = re.findall(r"(http://127\.0\.0\.1:\d+/portal/\S+)", mail.get_content())
    shots = Path(os.environ.get("RELANCE_SCREENSHOTS", tmp_path))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 420, "height": 900})  # a phone
            await page.goto(link)
            french = await page.inner_text("main")
            assert "Bonjour Atelier Dupont SARL" in french and "SRV-101" in french and "SRV-102" in french
            assert "SRV-201" not in french  # Martin's invoice is not Dupont's business
            results = await Axe().run(page)
            serious = [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
            assert serious == [], serious
            await page.screenshot(path=str(shots / "debtor-page-fr.png"), full_page=True)
            form = page.locator("form[data-action=promise]")
            await form.locator("select[name=invoice]").select_option("SRV-101")
            await form.locator("input[name=on]").fill((TODAY + timedelta(days=10)).isoformat())
            await form.locator("button").click()
            await page.locator("[data-said]").wait_for()
            assert await page.inner_text("[data-said]") == "Merci, c'est noté."
            await page.goto(link + "?lang=en")
            english = await page.inner_text("main")
            assert "Your invoices" in await page.title() and "Hello Atelier Dupont SARL" in english
            await page.screenshot(path=str(shots / "debtor-page-en.png"), full_page=True)
        finally:
            await browser.close()
    async with httpx.AsyncClient(base_url=served.url, headers={"Authorization": f"Bearer {portfolio}"}) as http:
        status = (await http.get("/cases/SRV-101", timeout=30)).json()  # the worker answers in this event loop
    (promise,) = [h for h in status["history"] if h["event"] == "promise_to_pay" and h["by"].startswith("debtor")]
    assert promise["detail"].endswith(f"by {(TODAY + timedelta(days=10)).isoformat()}")


async def test_an_english_debtor_keeps_a_promise_proposes_a_plan_and_disputes_on_the_page(served, portfolio, tmp_path):
    """Leroy Ltd (English) opens the link of the e-mail it received, in Chromium: a promise kept closes its case
    quietly, a plan beyond the policy's limits waits for a person (the page lists it), a dispute made in French
    pauses the case; axe-core finds no serious violation on the page with what it said."""
    from axe_playwright_python.async_playwright import Axe

    customer = {"id": "C-LEROY", "name": "Leroy Ltd", "email": "ap@leroy.example", "language": "en"}
    leroy = []
    for number, days in (("SRV-401", 40), ("SRV-402", 35), ("SRV-403", 30)):
        fields = overdue_invoice(number, "C-LEROY", "Leroy Ltd", days, "1200.00")
        leroy.append({**fields, "customer": {**fields["customer"], **customer}})
    headers = {"Authorization": f"Bearer {portfolio}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=30) as http:
        created = await http.post("/cases", json={"invoices": leroy}, timeout=60)
        assert [r["outcome"] for r in created.json()] == ["started"] * 3, created.text

        async def mailed() -> str | None:
            for path in sorted(served.settings.outbox_dir.glob("*.eml")):
                content = message_from_bytes(path.read_bytes(), policy=default).get_content()
                if "SRV-401" in content:
                    return content
            return None

        (link,) = re.findall(r"(http://127\.0\.0\.1:\d+/portal/\S+)", await until(mailed, "Leroy's reminder"))
        shots = Path(os.environ.get("RELANCE_SCREENSHOTS", tmp_path))
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 420, "height": 900})
                await page.goto(link)
                assert "Hello Leroy Ltd" in await page.inner_text("main")  # the customer's language

                async def act(action: str, invoice_id: str, fields: dict[str, str]) -> str:
                    form = page.locator(f"form[data-action={action}]")
                    await form.locator("select[name=invoice]").select_option(invoice_id)
                    for name, value in fields.items():
                        field = form.locator(f"[name={name}]")
                        if await field.evaluate("e => e.tagName") == "SELECT":
                            await field.select_option(value)
                        else:
                            await field.fill(value)
                    await form.locator("button").click()
                    await page.locator("[data-said]").wait_for()
                    return await page.inner_text("[data-said]")

                promised_on = (TODAY + timedelta(days=5)).isoformat()
                assert await act("promise", "SRV-401", {"on": promised_on}) == "Thank you, it is recorded."
                first = (TODAY + timedelta(days=10)).isoformat()
                said = await act("plan", "SRV-402", {"months": "24", "first": first})
                assert said == "Thank you: a person will answer you."  # 24 installments: beyond the page's 6
                requests = await page.inner_text("[data-part=requests]")
                assert "SRV-402: proposed payment plan of" in requests and "waiting for an answer" in requests
                results = await Axe().run(page)
                serious = [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
                assert serious == [], serious
                await page.screenshot(path=str(shots / "debtor-page-answered-en.png"), full_page=True)
                await page.goto(link + "?lang=fr")
                said = await act("dispute", "SRV-403", {"cause": "billing_error", "details": "prix du devis"})
                assert said == "Merci, c'est noté."
            finally:
                await browser.close()

        # the promise is kept: the payment closes the case, and no reminder follows it
        paid = {"amount": "1200.00", "paid_on": TODAY.isoformat(), "reference": "VIR-LEROY-301"}
        kept = await http.post("/cases/SRV-401/actions/payment_received", json=paid)
        assert kept.status_code == 200, kept.text
        first_case = (await http.get("/cases/SRV-401")).json()
        assert (first_case["state"], Decimal(first_case["balance"])) == ("closed", Decimal("0"))
        events = [h["event"] for h in first_case["history"]]
        assert events[-3:] == ["promise_to_pay", "payment_received", "case_closed"] and first_case["stage"] == "paid"
        mails = [p for p in served.settings.outbox_dir.glob("*.eml") if "SRV-401" in p.read_text(errors="replace")]
        assert len(mails) == 1  # the reminder that carried the link; nothing after the promise
        planned = (await http.get("/cases/SRV-402")).json()
        assert planned["stage"] != "payment_plan"  # waits for a person
        tasks = (await http.get("/tasks", params={"due": "open"})).json()
        (asked,) = [t for t in tasks if t["invoice_id"] == "SRV-402" and t["kind"] == "portal"]
        assert (
            asked["request"]["action"] == "payment_plan_agreed"
            and len(asked["request"]["fields"]["installments"]) == 24
        )
        disputed = (await http.get("/cases/SRV-403")).json()
        assert (disputed["stage"], disputed["history"][-1]["by"].startswith("debtor")) == ("disputed", True)
