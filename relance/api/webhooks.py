"""What providers tell us back: SendGrid's Event Webhook (`POST /webhooks/sendgrid/events`).

SendGrid posts a JSON array of events, signed with ECDSA over `timestamp + body` (headers
`X-Twilio-Email-Event-Webhook-Signature` and `-Timestamp`; the public key is SendGrid's, from its Mail
Settings, in RELANCE_SENDGRID_WEBHOOK_PUBLIC_KEY). The door refuses an unsigned or stale request before reading
its body; the signature is then checked with the `sendgrid` package's verifier. Each event reaches its case
through the `relance_case` and `relance_key` custom arguments every message carries (a grouped e-mail's, to
each invoice it covered: `relance_covers`), as an `email_event`
action (recorded once per message and kind: a batch posted again changes nothing). An event for no case of
ours, or that its case refuses, is kept in the ledger's refused input; the answer is 200 all the same, so that
SendGrid does not post again what was kept.
"""

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook
from starlette.datastructures import Headers

from relance.api.context import ApiContext
from relance.domain.actions import EmailBounced, EmailEvent
from relance.domain.limits import bounded
from relance.doors import Check, Knock
from relance.ledger.customer_view import sibling_open_invoices
from starter.ops import ActionRejected, AlreadyRecorded, UnknownCase, act

SENDGRID_EVENTS = "/webhooks/sendgrid/events"
SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
FRESH_SECONDS = 300  # a signature older (or newer) than this is a replay, or a clock to fix
BY = "sendgrid"
KINDS = ("delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe")
CUSTOMER_WIDE = {"unsubscribe": "unsubscribed", "spamreport": "reported as spam"}  # stop e-mail to the customer


def sendgrid_door(context: ApiContext) -> Check:
    """The door's check, on the headers alone: configured, signed, and fresh."""

    async def check(headers: Headers) -> str:
        if not context.settings.sendgrid_webhook_public_key:
            raise Knock(403, "the SendGrid event webhook is not set up (RELANCE_SENDGRID_WEBHOOK_PUBLIC_KEY)")
        signature, stamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
        if not signature or not stamp:
            raise Knock(
                401, "a signed SendGrid request is required (X-Twilio-Email-Event-Webhook-Signature, -Timestamp)"
            )
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > FRESH_SECONDS:
            raise Knock(401, f"the signature's timestamp is more than {FRESH_SECONDS // 60} minutes away: replayed?")
        return BY

    return check


def webhooks_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    settings = context.settings

    @router.post(SENDGRID_EVENTS, summary="SendGrid's Event Webhook (signed): what became of each e-mail")
    async def sendgrid_events(request: Request) -> dict[str, int]:
        body = await request.body()  # read at the door: signed headers, within the limit
        key = settings.sendgrid_webhook_public_key or ""
        try:
            verifier = EventWebhook(key)
            valid = verifier.verify_signature(
                body.decode("utf-8"), request.headers[SIGNATURE], request.headers[TIMESTAMP]
            )
        except (ValueError, UnicodeDecodeError):
            valid = False
        if not valid:
            raise HTTPException(401, "the SendGrid signature does not match this body")
        try:
            events = json.loads(body)
        except json.JSONDecodeError as err:
            raise HTTPException(400, f"the body is not JSON: {err.msg} (at character {err.pos})") from None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise HTTPException(400, "the body is not a JSON array of event objects, as SendGrid posts")
        counts = {"received": len(events), "applied": 0, "already": 0, "refused": 0, "ignored": 0}
        client = await context.temporal()
        for event in events:
            for target in _targets(event):  # a grouped e-mail's event reaches each invoice it covered
                counts[await _take(context, client, target)] += 1
        return counts

    return router


def _targets(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The event once per step it concerns: the message's own (`relance_case`, `relance_key`), or each step key
    a grouped e-mail covered (`relance_covers`)."""
    covers = event.get("relance_covers")
    if not isinstance(covers, str) or not covers:
        return [event]
    keys = [key for key in covers.split(",") if key.startswith("invoice-") and ":" in key]
    return [{**event, "relance_case": key.split(":", 1)[0], "relance_key": key} for key in keys] or [event]


async def _take(context: ApiContext, client: Any, event: dict[str, Any]) -> str:
    kind = event.get("event")
    if kind not in KINDS or (kind == "bounce" and event.get("type") == "blocked"):  # blocked: a soft bounce
        return "ignored"
    case_id, key = str(event.get("relance_case") or ""), str(event.get("relance_key") or "")
    invoice_id = case_id.removeprefix("invoice-")
    step_id = key.removeprefix(f"{case_id}:") if case_id and key.startswith(f"{case_id}:") else ""
    payload = {k: event.get(k) for k in ("event", "sg_event_id", "timestamp", "reason", "relance_case", "relance_key")}
    if not case_id.startswith("invoice-") or not invoice_id or not step_id:
        refusal = "the event names no case and step of ours (relance_case, relance_key)"
        await context.keep_refused(invoice_id, EmailEvent.name, payload, refusal, BY)
        return "refused"
    try:
        at = datetime.fromtimestamp(float(event.get("timestamp")), UTC)  # type: ignore[arg-type]
        reason = bounded(str(event["reason"]), 500) if event.get("reason") else None
        event_id = str(event.get("sg_event_id") or "?")
        action = EmailEvent(kind=kind, step_id=step_id, at=at, event_id=event_id, reason=reason, by=BY)
    except (TypeError, ValueError, OverflowError, ValidationError) as err:
        await context.keep_refused(
            invoice_id, EmailEvent.name, payload, f"not a SendGrid event: {bounded(str(err), 300)}", BY
        )
        return "refused"
    try:
        await act(client, invoice_id, action)
    except AlreadyRecorded:
        return "already"  # posted again: no refusal to keep
    except (ActionRejected, UnknownCase) as err:
        await context.keep_refused(invoice_id, EmailEvent.name, payload, str(err), BY)
        return "refused"
    if kind in CUSTOMER_WIDE:
        await _stop_email_for_customer(context, client, invoice_id, kind)
    return "applied"


async def _stop_email_for_customer(context: ApiContext, client: Any, invoice_id: str, kind: str) -> None:
    """The customer asked for no more e-mail (or called it spam): every open case of theirs stops e-mailing,
    as a bounce would (their next e-mail steps become calls), until a person records an address."""
    reason = (
        f"{CUSTOMER_WIDE[kind]} from invoice {invoice_id}'s e-mail: no e-mail to this customer until a person decides"
    )
    for sibling in await asyncio.to_thread(sibling_open_invoices, context.engine, invoice_id):
        try:
            await act(client, sibling, EmailBounced(reason=bounded(reason, 500), by=BY))
        except (ActionRejected, UnknownCase) as err:  # closed meanwhile: nothing to stop
            payload = {"event": kind, "from_invoice": invoice_id}
            await context.keep_refused(sibling, EmailEvent.name, payload, str(err), BY)
