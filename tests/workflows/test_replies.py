"""Replies reach the case (issue "Hearing the debtor", item 2): every message carries a Reply-To of its own
and a Message-ID; SendGrid's Inbound Parse posts the reply as the form its documentation shows; the case
records it and stops chasing for the policy's days, a person gets a task with the new text (without the
quoted history), an out-of-office pauses nothing, a reply that matches nothing becomes a triage task, and the
door refuses a wrong secret, anything but a form, and a body over the limit."""

from datetime import date
from email import message_from_bytes
from email.policy import default
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from relance.api.app import api_app
from relance.ledger.customer_view import standing_card
from relance.ledger.db import engine_for
from relance.ledger.work_queue import list_tasks
from tests.builders import invoice, minute, paris

START = paris(2026, 4, 20, 8)
SECRET = "inbound-secret-0123456789"
DOMAIN = "reply.vendor.example"
INBOUND = f"/webhooks/sendgrid/inbound/{SECRET}"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={
            "reply_domain": DOMAIN,
            "sendgrid_inbound_secret": SecretStr(SECRET),
            "sendgrid_inbound_max_bytes": 200_000,
        }
    )


def sent(worker: Any, name: str) -> Any:
    return message_from_bytes((worker.outbox_dir / name).read_bytes(), policy=default)


def parse_form(reply_to: str, message_id: str, *, text: str, subject: str = "Re: Facture RP-1", **headers: str):
    """What Inbound Parse posts for a mail to `reply_to` (its documented fields), and the files it carries."""
    header_lines = "\n".join(
        [
            "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 27 May 2026 07:02:12 +0000 (UTC)",
            "From: Jean Dupont <compta@acme.example>",
            f"To: {reply_to}",
            f"Subject: {subject}",
            "Date: Tue, 05 May 2026 10:15:00 +0200",
            f"Message-ID: <CAF=reply-{abs(hash(text)) % 10**8}@mail.acme.example>",
            f"In-Reply-To: {message_id}",
            *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()),
        ]
    )
    fields = {
        "headers": header_lines,
        "dkim": "{@acme.example : pass}",
        "to": reply_to,
        "from": "Jean Dupont <compta@acme.example>",
        "text": text,
        "sender_ip": "209.85.223.169",
        "spam_report": "Spam detection software... Content analysis details: (0.0 points)",
        "envelope": f'{{"to":["{reply_to}"],"from":"compta@acme.example"}}',
        "subject": subject,
        "spam_score": "0.0",
        "charsets": '{"to":"UTF-8","html":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"UTF-8"}',
        "SPF": "pass",
    }
    return fields


def posted(form: dict[str, str], **files: tuple[str, bytes, str]) -> dict[str, Any]:
    """The request as SendGrid makes it: every field a part of a multipart/form-data body, then the files."""
    parts: list[tuple[str, Any]] = [(name, (None, value)) for name, value in form.items()]
    parts += [("attachments", (None, str(len(files)))), *files.items()]
    return {"files": parts}


async def test_a_reply_pauses_the_case_gives_a_person_its_text_and_the_chase_resumes_after(env, open_case, worker):
    case = await open_case(invoice("RP-1", starts_at=START))
    await case.advance_to(paris(2026, 4, 27, 12))  # the courtesy note left this morning
    note = sent(worker, "invoice-RP-1_courtesy.eml")
    reply_to, message_id = note["Reply-To"], note["Message-ID"]
    assert reply_to.startswith("r+") and reply_to.endswith(f"@{DOMAIN}") and message_id.endswith(f"@{DOMAIN}>")

    async def client():
        return env.client

    engine = engine_for(worker.database_url)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        text = (
            "Bonjour,\n\nLa facture est bloquée chez nous : le bon de commande manque.\n"
            "Je reviens vers vous vendredi.\n\nJean\n\n"
            "Le lun. 27 avr. 2026 à 09:00, Vendor SAS <relances@vendor.example> a écrit :\n"
            "> Madame, Monsieur,\n> Votre facture RP-1 arrive à échéance."
        )
        form = parse_form(reply_to, message_id, text=text)
        files = {
            "attachment1": ("bon de commande.pdf", PDF, "application/pdf"),
            "attachment2": ("run.exe", b"MZ\x90\x00", "application/x-msdownload"),
        }  # the documented `attachment-info` field describes them too; the files are what counts
        answer = await http.post(INBOUND, **posted(form, **files))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["cases"], body["automatic"]) == ({"RP-1": "applied"}, False)
        assert body["attachments_refused"] == ["run.exe: type application/x-msdownload not kept"]
        again = await http.post(INBOUND, **posted(form, **files))
        assert again.json()["cases"] == {"RP-1": "already"}  # SendGrid posts again: one reply, one task

    status = await case.status()
    (reply,) = [h for h in status.history if h.event == "reply_received"]
    assert reply.detail == "reply from compta@acme.example: Re: Facture RP-1"
    assert reply.data["text"] == (
        "Bonjour,\n\nLa facture est bloquée chez nous : le bon de commande manque.\n"
        "Je reviens vers vous vendredi.\n\nJean"
    )
    assert reply.data["received_at"] == "2026-05-05T10:15:00+02:00"  # the reply's own Date
    (kept,) = reply.data["attachments"]
    assert (worker.documents_dir / kept).read_bytes() == PDF
    assert (status.state, status.pause_reason, status.paused_until) == (
        "paused", "the debtor replied (Re: Facture RP-1)", date(2026, 5, 2)
    )  # fmt: skip
    tasks = [t for t in list_tasks(engine, today=date.today()) if t.kind == "reply"]
    (task,) = tasks
    assert task.invoice_id == "RP-1" and "le bon de commande manque" in task.script and "> Madame" not in task.script
    assert "attachments not kept: run.exe" in task.script
    # the sales page's card shows the conversation on the open invoices: kinds and subjects, never an address
    card = standing_card(engine, "C-ACME", date.today())
    assert [(e.invoice_id, e.kind, e.what) for e in card.conversation] == [
        ("RP-1", "sent", "courtesy"),
        ("RP-1", "replied", "Re: Facture RP-1"),
    ]

    # 2 May: the pause ends; reminder-1 (due 4 May) goes out as planned, the days on hold being before it was late
    status = await case.advance_to(paris(2026, 5, 4, 12))
    assert [s.step_id for s in status.steps if s.status == "done"] == ["courtesy", "reminder-1"]
    assert minute(next(s for s in status.steps if s.step_id == "reminder-1").at) == paris(2026, 5, 4, 9)


async def test_an_out_of_office_is_recorded_and_pauses_nothing_and_a_stray_reply_is_triaged(env, open_case, worker):
    case = await open_case(invoice("RP-2", starts_at=START))
    await case.advance_to(paris(2026, 4, 27, 12))
    note = sent(worker, "invoice-RP-2_courtesy.eml")

    async def client():
        return env.client

    engine = engine_for(worker.database_url)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        away = parse_form(note["Reply-To"], note["Message-ID"], text="Je suis absent jusqu'au 4 mai.",
                          subject="Réponse automatique : Facture RP-2", Auto_Submitted="auto-replied")  # fmt: skip
        answer = await http.post(INBOUND, **posted(away))
        assert answer.status_code == 200, answer.text
        assert (answer.json()["cases"], answer.json()["automatic"]) == ({"RP-2": "applied"}, True)
        stray = parse_form(f"r+{'0' * 20}@{DOMAIN}", "<nothing@elsewhere>", text="Qui êtes-vous ?",
                           subject="Question")  # fmt: skip
        triaged = await http.post(INBOUND, **posted(stray))
        assert (triaged.json()["cases"], triaged.json()["triage"]) == ({}, True)
        html = parse_form(note["Reply-To"], note["Message-ID"], text="", subject="Re: RP-2")
        html["html"] = "<p>Payé <b>hier</b></p><script>alert('x')</script><style>p{}</style>"
        shown = await http.post(INBOUND, **posted(html))
        assert shown.json()["cases"] == {"RP-2": "applied"}

    status = await case.status()
    events = [h.event for h in status.history if h.event in ("reply_automatic", "reply_received", "paused")]
    assert events == ["reply_automatic", "reply_received", "paused"]  # the out-of-office paused nothing
    automatic = [h for h in status.history if h.event == "reply_automatic"]
    assert [h.detail for h in automatic] == [
        "automatic reply from compta@acme.example: Réponse automatique : Facture RP-2"
    ]
    tasks = {t.script.splitlines()[0]: t for t in list_tasks(engine, today=date.today()) if t.kind == "reply"}
    assert set(tasks) == {"Reply from compta@acme.example: Question", "Reply from compta@acme.example: Re: RP-2"}
    assert "matches no message of ours" in tasks["Reply from compta@acme.example: Question"].script
    assert "Payé hier" in tasks["Reply from compta@acme.example: Re: RP-2"].script
    assert "alert" not in tasks["Reply from compta@acme.example: Re: RP-2"].script


async def test_the_inbound_door_refuses_a_wrong_secret_anything_but_a_form_and_a_big_body(env, worker):
    async def client():
        return env.client

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        wrong = await http.post("/webhooks/sendgrid/inbound/guess", **posted({"text": "x"}))
        assert (wrong.status_code, wrong.json()["detail"]) == (
            401,
            "this inbound address is not the one given to SendGrid",
        )
        not_form = await http.post(INBOUND, json={"text": "x"})
        assert (not_form.status_code, not_form.json()["detail"]) == (
            415,
            "SendGrid's Inbound Parse posts multipart/form-data",
        )
        big = await http.post(
            INBOUND, data={"text": "x"}, files={"attachment1": ("a.pdf", b"0" * 300_000, "application/pdf")}
        )
        assert big.status_code == 413
        broken = await http.post(
            INBOUND, content=b"--x\r\nnot a part", headers={"Content-Type": "multipart/form-data; boundary=x"}
        )
        assert (broken.status_code, broken.json()["detail"]) == (
            400,
            "not a form SendGrid posts: Invalid multipart data.",
        )
