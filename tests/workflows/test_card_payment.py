"""Card payment on the debtor's page (issue "The debtor's own page", item 3): the page sends the debtor to a Stripe
Checkout session made through Stripe's official client (against a local endpoint answering as Stripe documents);
Stripe's signed webhook turns the completed payment into a payment on the case, once; a forged or unsigned
webhook is refused; without Stripe settings the page offers no card payment."""

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from pydantic import SecretStr

from relance.api.app import api_app
from relance.domain.portal_links import sign_link
from tests.builders import invoice, paris
from tests.recording_endpoint import RecordingEndpoint, Reply

START = paris(2026, 4, 20, 8)
SECRET, HOOK = "portal-secret-0123456789", "whsec_test_0123456789"
PUBLIC = "https://relance.vendor.example"
SESSION = {"id": "cs_test_a1", "object": "checkout.session", "mode": "payment", "status": "open",
           "url": "https://checkout.stripe.com/c/pay/cs_test_a1", "currency": "eur",
           "amount_total": 125000}  # fmt: skip


@pytest.fixture
def endpoint() -> Iterator[RecordingEndpoint]:
    recorder = RecordingEndpoint()
    recorder.default = Reply(status=200, body=SESSION)
    yield recorder
    recorder.close()


@pytest.fixture
def settings(settings, endpoint: RecordingEndpoint):
    return settings.model_copy(
        update={
            "portal_secret": SecretStr(SECRET),
            "public_url": PUBLIC,
            "stripe_secret_key": SecretStr("sk_test_0123456789"),
            "stripe_webhook_secret": SecretStr(HOOK),
            "stripe_api_base": endpoint.url,
        }
    )


def completed(event_id: str, invoice_id: str) -> dict[str, Any]:
    """A checkout.session.completed event as Stripe posts it (its documented shape, shortened)."""
    return {
        "id": event_id, "object": "event", "api_version": "2024-06-20", "created": int(time.time()),
        "type": "checkout.session.completed", "livemode": False, "pending_webhooks": 1,
        "data": {"object": {**SESSION, "status": "complete", "payment_status": "paid", "payment_intent": "pi_3Q1",
                            "client_reference_id": invoice_id,
                            "metadata": {"relance_invoice": invoice_id, "relance_customer": "C-ACME"}}},
    }  # fmt: skip


def signed(event: dict[str, Any], secret: str = HOOK) -> dict[str, Any]:
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret)
    return {"content": body, "headers": {"Stripe-Signature": header, "Content-Type": "application/json"}}


async def test_a_card_payment_made_on_the_page_pays_the_case_once(env, open_case, worker, endpoint):
    case = await open_case(invoice("ST-1"))  # on the real clock: the payment is dated today

    async def client():
        return env.client

    link = sign_link(SECRET, "C-ACME")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        page = await http.get(f"/portal/{link}")
        (form,) = set(re.findall(r'name="form" value="([^"]+)"', page.text))
        assert 'data-action="pay"' in page.text
        paying = await http.post(f"/portal/{link}/pay", data={"form": form, "invoice": "ST-1", "lang": "fr"})
        assert (paying.status_code, paying.headers["location"]) == (303, SESSION["url"])
        (made,) = endpoint.requests
        assert made.path == "/v1/checkout/sessions"
        assert made.headers["Authorization"] == "Bearer sk_test_0123456789"
        price = "line_items[0][price_data]"
        assert (made.body[f"{price}[unit_amount]"], made.body[f"{price}[currency]"]) == ("125000", "eur")
        assert made.body["metadata[relance_invoice]"] == "ST-1"
        assert made.body["success_url"] == f"{PUBLIC}/portal/{link}?said=card_paid"

        event = completed("evt_1", "ST-1")
        answer = await http.post("/webhooks/stripe", **signed(event))
        assert answer.json() == {"ST-1": "applied"}, answer.text
        again = await http.post("/webhooks/stripe", **signed({**event, "id": "evt_1_redelivered"}))
        assert again.json() == {"ST-1": "already"}  # the same payment twice is one payment
        forged = await http.post("/webhooks/stripe", **signed(event, "whsec_someone_else"))
        assert forged.status_code == 401
        header = stripe.WebhookSignature.generate_signature_header("{not json", HOOK)
        garbled = await http.post("/webhooks/stripe", content="{not json", headers={"Stripe-Signature": header})
        assert garbled.status_code == 400 and garbled.json()["detail"].startswith("the body is not a Stripe event: ")
        unsigned = await http.post("/webhooks/stripe", content=json.dumps(event))
        assert unsigned.status_code == 401 and "Stripe-Signature" in unsigned.json()["detail"]

    status = await case.status()
    assert (status.outcome, status.total_paid) == ("paid", 1250)
    (paid,) = status.payments
    assert paid.reference == "stripe pi_3Q1"


async def test_without_stripe_settings_the_page_offers_no_card_payment(env, open_case, worker):
    await open_case(invoice("ST-2", starts_at=START))
    plain = worker.model_copy(update={"stripe_secret_key": None, "stripe_webhook_secret": None})

    async def client():
        return env.client

    link = sign_link(SECRET, "C-ACME")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(plain, client)), base_url="http://api"
    ) as http:
        page = await http.get(f"/portal/{link}")
        assert page.status_code == 200 and "ST-2" in page.text and 'data-action="pay"' not in page.text
        refused = await http.post("/webhooks/stripe", content="{}", headers={"Stripe-Signature": "t=1,v1=x"})
        assert refused.status_code == 403
