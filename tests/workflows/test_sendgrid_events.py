"""SendGrid's Event Webhook (issue: hearing the debtor, item 1, in part): what SendGrid posts (a JSON array of
events carrying our custom arguments, signed with ECDSA over timestamp + body, as its documentation shows)
reaches the case the message came from: delivered and opened recorded once however often they are posted, a
hard bounce flags the address so the next e-mail step becomes a call; unsigned, forged or stale requests are
refused at the door, and an event for no case of ours is kept in the ledger's refused input."""

import asyncio
import base64
import json
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.api.app import api_app
from relance.domain.case_records import StepRecord
from relance.domain.deliveries import MessageTrail, reminders_sent
from relance.ledger.db import RejectedInput, engine_for
from relance.ledger.work_queue import list_tasks
from relance.rendering.documents import reminder_line
from starter.statements import statement_at
from tests.builders import ROOT, invoice, paris

START = paris(2026, 4, 20, 8)
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


def signed(events: list[dict], *, stamp: int | None = None, key: ec.EllipticCurvePrivateKey = KEY) -> dict:
    """The request SendGrid makes: the body, and its signature over timestamp + body."""
    body = json.dumps(events)
    stamp = int(time.time()) if stamp is None else stamp
    signature = base64.b64encode(key.sign(f"{stamp}{body}".encode(), ec.ECDSA(hashes.SHA256()))).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": str(stamp),
    }
    return {"content": body, "headers": headers}


def event(kind: str, at: int, event_id: str, step: str = "reminder-1", **extra: object) -> dict:
    """An event as SendGrid posts it, with the custom arguments our messages carry."""
    return {
        "email": "compta@acme.example", "timestamp": at, "event": kind, "sg_event_id": event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "smtp-id": "<14c5d75ce93@ismtpd-555>",
        "category": ["relance", "reminder_1"], "relance_case": "invoice-WH-1", "relance_key": f"invoice-WH-1:{step}",
        **extra,
    }  # fmt: skip


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"sendgrid_webhook_public_key": PUBLIC})


async def test_what_sendgrid_saw_reaches_the_case_once(env, open_case, worker):
    case = await open_case(invoice("WH-1", starts_at=START))
    status = await case.advance_to(paris(2026, 5, 4, 12))  # reminder-1 went out this morning
    at = int(status.as_of.timestamp()) - 3600

    async def client():
        return env.client

    app = api_app(worker, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:

        async def post(request: dict) -> httpx.Response:
            return await http.post("/webhooks/sendgrid/events", **request)

        batch = [event("processed", at - 60, "E0"), event("delivered", at, "E1"), event("open", at + 600, "E2"),
                 event("open", at + 900, "E3")]  # fmt: skip
        first = await post(signed(batch))
        assert first.json() == {"received": 4, "applied": 2, "already": 1, "refused": 0, "ignored": 1}, first.text
        again = await post(signed(batch))  # SendGrid posts a batch again: nothing changes
        assert again.json() == {"received": 4, "applied": 0, "already": 3, "refused": 0, "ignored": 1}
        shown = await case.status()
        trail = shown.deliveries["reminder-1"]
        assert (trail.delivered.timestamp(), trail.opened.timestamp(), trail.clicked) == (at, at + 600, None)
        history = [(h.event, h.detail) for h in shown.history if h.event.startswith("email_")]
        local = status.as_of - timedelta(hours=1)
        assert history == [
            ("email_delivered", f"reminder-1 delivered on {local:%d/%m/%Y at %H:%M}"),
            ("email_opened", f"reminder-1 opened on {local + timedelta(minutes=10):%d/%m/%Y at %H:%M}"),
        ]

        # the statement (décompte) cites each reminder and what SendGrid saw of it, as the dossier does
        _, result = await statement_at(env.client, "WH-1", date(2026, 5, 4), ROOT / "rates" / "france.yaml")
        cited = [reminder_line(sent, "Europe/Paris") for sent in result.reminders]
        seen = f"délivrée le {local:%d/%m/%Y à %H:%M}, ouverte le {local + timedelta(minutes=10):%d/%m/%Y à %H:%M}"
        assert cited == [
            "étape courtesy — Facture WH-1 : échéance le 30 avril 2026",
            f"étape reminder-1 — Rappel : facture WH-1 échue depuis 4\xa0jours ({seen})",
        ]
        statement_json = await http.get("/cases/WH-1/statement?at=2026-05-04")
        assert statement_json.status_code == 401  # the statement over HTTP needs a collector's token

        # refused at the door, before the body is read: unsigned, stale; then a forged signature
        unsigned = await http.post("/webhooks/sendgrid/events", content=json.dumps(batch))
        assert unsigned.status_code == 401 and "a signed SendGrid request is required" in unsigned.json()["detail"]
        stale = await post(signed(batch, stamp=int(time.time()) - 3600))
        assert stale.status_code == 401 and "replayed?" in stale.json()["detail"]
        forged = await post(signed(batch, key=ec.generate_private_key(ec.SECP256R1())))
        assert (forged.status_code, forged.json()["detail"]) == (401, "the SendGrid signature does not match this body")

        # a signed body that is not what SendGrid posts: refused, nothing applied
        for body, detail in (
            ("{not json", "the body is not JSON: Expecting property name enclosed in double quotes (at character 1)"),
            ('{"event": "delivered"}', "the body is not a JSON array of event objects, as SendGrid posts"),
        ):
            request = signed([])
            stamp = request["headers"]["X-Twilio-Email-Event-Webhook-Timestamp"]
            request["content"] = body
            request["headers"]["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(
                KEY.sign(f"{stamp}{body}".encode(), ec.ECDSA(hashes.SHA256()))
            ).decode()
            refused = await post(request)
            assert (refused.status_code, refused.json()["detail"]) == (400, detail)
        # an event for no case of ours is kept for a person, and the batch is still taken
        stray = await post(signed([{**event("delivered", at, "E9"), "relance_case": "", "relance_key": ""}]))
        assert stray.json()["refused"] == 1
        with Session(engine_for(worker.database_url)) as session:
            kept = session.scalars(select(RejectedInput).where(RejectedInput.action == "email_event")).all()
        assert [(k.reason, k.payload["sg_event_id"]) for k in kept] == [
            ("the event names no case and step of ours (relance_case, relance_key)", "E9")
        ]

        # a hard bounce flags the address: the next e-mail step becomes a call
        soft = await post(signed([event("bounce", at, "E4", type="blocked", reason="421 try later")]))
        assert soft.json()["ignored"] == 1
        hard = await post(signed([event("bounce", at, "E5", type="bounce", reason="550 5.1.1 user unknown")]))
        assert hard.json()["applied"] == 1
    status = await case.status()
    assert status.flags.email_invalid == "reminder-1 bounced: 550 5.1.1 user unknown"
    for _ in range(100):  # a person is asked for a working address now, not at the next e-mail step
        tasks = [
            t for t in list_tasks(engine_for(worker.database_url), today=date(2026, 5, 4)) if t.invoice_id == "WH-1"
        ]
        if tasks:
            break
        await asyncio.sleep(0.05)
    assert [t.script.splitlines()[0] for t in tasks] == [
        "Appeler ACME SAS : e-mail invalide, facture WH-1, 1\u202f250,00\xa0€"
    ]
    status = await case.advance_to(paris(2026, 5, 12, 12))  # reminder-2's day
    (reminder_2,) = [s for s in status.steps if s.step_id == "reminder-2"]
    assert reminder_2.status == "done" and reminder_2.detail.startswith("e-mail unreachable (reminder-1 bounced")


@pytest.mark.parametrize(
    ("trail", "cited"),
    [
        (None, "étape reminder-1 — Facture F-1 : rappel"),
        (MessageTrail(delivered=datetime(2026, 11, 12, 8, 2, tzinfo=UTC)),
         "étape reminder-1 — Facture F-1 : rappel (délivrée le 12/11/2026 à 09:02)"),
        (MessageTrail(delivered=datetime(2026, 11, 12, 8, 2, tzinfo=UTC),
                      opened=datetime(2026, 11, 13, 7, 30, tzinfo=UTC)),
         "étape reminder-1 — Facture F-1 : rappel (délivrée le 12/11/2026 à 09:02, ouverte le 13/11/2026 à 08:30)"),
    ],
)  # fmt: skip
def test_the_dossier_and_the_statement_cite_when_a_reminder_was_delivered_and_opened(trail, cited):
    contact = StepRecord(
        step_id="reminder-1", at=START, status="done", detail="sent: Facture F-1 : rappel", channel="email"
    )
    (sent,) = reminders_sent([contact], {"reminder-1": trail} if trail else {})
    assert reminder_line(sent, "Europe/Paris") == cited


async def test_what_sendgrid_saw_of_a_grouped_email_reaches_each_invoice_it_covered(env, open_case, worker):
    customer = {"id": "C-GRP", "email": "compta@grp.example"}
    cases = [await open_case(invoice(f"WG-{n}", customer=customer, starts_at=START)) for n in (1, 2)]
    status = await cases[0].advance_to(paris(2026, 4, 27, 12))  # both courtesy notes left as one e-mail
    (grouped,) = sorted(worker.outbox_dir.glob("customer-C-GRP_batch-*.eml"))
    headers = dict(line.split(": ", 1) for line in grouped.read_text().split("\n\n")[0].splitlines() if ": " in line)
    assert headers["X-Relance-Covers"] == "invoice-WG-1:courtesy,invoice-WG-2:courtesy"
    at = int(status.as_of.timestamp()) - 3600
    ours = {"relance_case": headers["X-Relance-Case"], "relance_key": headers["X-Relance-Key"]}
    delivered = event("delivered", at, "G1", **ours, relance_covers=headers["X-Relance-Covers"])

    async def client():
        return env.client

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        answer = await http.post("/webhooks/sendgrid/events", **signed([delivered]))
    assert answer.json() == {"received": 1, "applied": 2, "already": 0, "refused": 0, "ignored": 0}, answer.text
    for case in cases:
        trail = (await case.status()).deliveries["courtesy"]
        assert trail.delivered is not None and trail.delivered.timestamp() == at


async def test_an_unsubscribe_stops_e_mail_to_every_open_case_of_the_customer(env, open_case, worker):
    customer = {"id": "C-UNSUB", "email": "compta@unsub.example"}
    cases = [await open_case(invoice(f"WU-{n}", customer=customer, starts_at=START)) for n in (1, 2)]
    status = await cases[0].advance_to(paris(2026, 4, 27, 12))
    at = int(status.as_of.timestamp()) - 3600
    ours = {"relance_case": "invoice-WU-1", "relance_key": "invoice-WU-1:courtesy"}

    async def client():
        return env.client

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        answer = await http.post("/webhooks/sendgrid/events", **signed([event("unsubscribe", at, "U1", **ours)]))
    assert answer.json()["applied"] == 1, answer.text
    first, second = [await case.status() for case in cases]
    assert first.flags.email_invalid == "courtesy unsubscribed"
    assert second.flags.email_invalid == (
        "unsubscribed from invoice WU-1's e-mail: no e-mail to this customer until a person decides"
    )
