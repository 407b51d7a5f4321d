"""Card payment on the debtor's page: a Stripe Checkout session per invoice (Stripe's official client), and
Stripe's signed webhook (`POST /webhooks/stripe`) turning a completed payment into `payment_received` on the case.

The webhook's signature (`Stripe-Signature`, HMAC-SHA256 over the timestamp and the body with the endpoint's
secret, five minutes of tolerance) is checked with the `stripe` package's own `Webhook.construct_event`. A payment
is recorded once: its reference is the PaymentIntent's id, which the case takes once (a redelivered event is
`already`). Without STRIPE_SECRET_KEY the page offers no card payment and the webhook is refused (403)."""

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import stripe
from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import Headers

from relance.api.context import ApiContext
from relance.domain.actions import PaymentReceived
from relance.domain.limits import CURRENCY_DECIMALS, bounded
from relance.doors import Check, Knock
from relance.ledger.bank_ledger import payment_recorded
from relance.settings import Settings
from starter.ops import ActionRejected, AlreadyRecorded, UnknownCase, act

STRIPE_WEBHOOK = "/webhooks/stripe"
BY = "stripe"


def checkout_url(settings: Settings, invoice_id: str, customer_id: str, balance: Decimal, currency: str,
                 back: str, lang: str) -> str:  # fmt: skip
    """A Checkout session for what is left on the invoice; the address the debtor pays at."""
    assert settings.stripe_secret_key is not None
    client = stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(), base_addresses={"api": settings.stripe_api_base}
    )
    minor = int(balance * (10 ** CURRENCY_DECIMALS.get(currency, 2)))
    name = f"Facture {invoice_id}" if lang == "fr" else f"Invoice {invoice_id}"
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {"currency": currency.lower(), "unit_amount": minor,
                                                           "product_data": {"name": name}}}],
            "client_reference_id": invoice_id,
            "metadata": {"relance_invoice": invoice_id, "relance_customer": customer_id},
            "payment_intent_data": {"metadata": {"relance_invoice": invoice_id}},
            "success_url": f"{back}?said=card_paid", "cancel_url": back, "locale": lang,
        }
    )  # fmt: skip
    if not session.url:
        raise ValueError("Stripe answered a session without an address to pay at")
    return str(session.url)


def stripe_door(context: ApiContext) -> Check:
    async def check(headers: Headers) -> str:
        if context.settings.stripe_webhook_secret is None:
            raise Knock(403, "Stripe's webhook is not set up (STRIPE_WEBHOOK_SECRET)")
        if not headers.get("stripe-signature"):
            raise Knock(401, "a signed Stripe request is required (Stripe-Signature)")
        return BY

    return check


def stripe_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.post(STRIPE_WEBHOOK, summary="Stripe's webhook (signed): a card payment made on the debtor's page")
    async def stripe_webhook(request: Request) -> dict[str, Any]:
        secret = context.settings.stripe_webhook_secret
        assert secret is not None  # the door refused otherwise
        body = await request.body()
        try:
            event = stripe.Webhook.construct_event(
                body, request.headers.get("stripe-signature", ""), secret.get_secret_value()
            )
        except stripe.SignatureVerificationError:
            raise HTTPException(401, "the Stripe signature does not match this body (or is too old)") from None
        except ValueError as err:
            raise HTTPException(400, f"the body is not a Stripe event: {bounded(str(err), 200)}") from None
        if event.type != "checkout.session.completed":
            return {"ignored": event.type}
        session: dict[str, Any] = json.loads(body)["data"]["object"]  # verified above: read as plain JSON
        if session.get("payment_status") != "paid":
            return {"ignored": f"payment {session.get('payment_status')}"}
        invoice = str(
            (session.get("metadata") or {}).get("relance_invoice") or session.get("client_reference_id") or ""
        )
        currency = str(session.get("currency") or "eur").upper()
        amount = Decimal(int(session.get("amount_total") or 0)) / (10 ** CURRENCY_DECIMALS.get(currency, 2))
        reference = f"stripe {session.get('payment_intent') or session.get('id')}"
        paid_on = datetime.fromtimestamp(int(event.created), UTC).date() if event.created else date.today()
        payload = {"event": event.id, "invoice": invoice, "amount": str(amount), "reference": reference}
        try:
            action = PaymentReceived(amount=amount, paid_on=paid_on, reference=reference, by=BY)
            await act(await context.temporal(), invoice, action)
        except AlreadyRecorded:
            return {invoice: "already"}
        except (ActionRejected, UnknownCase, ValueError) as err:
            if await asyncio.to_thread(payment_recorded, context.engine, invoice, reference):
                return {invoice: "already"}  # posted again after the payment closed the case
            await context.keep_refused(invoice, PaymentReceived.name, payload, str(err), BY)
            return {invoice: "refused"}
        return {invoice: "applied"}

    return router
