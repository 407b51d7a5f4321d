"""What Twilio tells us back about SMS: each message's status (`POST /webhooks/twilio/status`, asked as the
status callback of every SMS) and the messages debtors send to our number (`POST /webhooks/twilio/inbound`).

Twilio posts a form and signs it (`X-Twilio-Signature`: HMAC-SHA1 with the account's auth token over the URL it
called and the form's fields), checked with the `twilio` package's own validator against RELANCE_PUBLIC_URL.
A status becomes the case's `sms_event`; a STOP (ARRET, UNSUBSCRIBE…) records the number's opt-out in the ledger,
checked before every SMS, and on each case that texted it; any other text becomes a task for a person. The
answer is an empty TwiML response (nothing is sent back by us)."""

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import Headers
from twilio.request_validator import RequestValidator

from relance.api.context import ApiContext
from relance.domain.actions import SmsEvent
from relance.domain.limits import MAX_REPLY_TEXT, bounded, clean_message, printable
from relance.domain.sms import is_stop
from relance.doors import Check, Knock
from relance.ledger.sms_ledger import cases_texted, opt_out, sms_sent
from relance.ledger.work_queue import create_review_task
from starter.ops import ActionRejected, AlreadyRecorded, UnknownCase, act

TWILIO_STATUS = "/webhooks/twilio/status"
TWILIO_INBOUND = "/webhooks/twilio/inbound"
SIGNATURE = "x-twilio-signature"
BY = "twilio"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
STATUSES = {"delivered": "delivered", "undelivered": "undelivered", "failed": "failed"}  # others: on its way


def twilio_door(context: ApiContext) -> Check:
    async def check(headers: Headers) -> str:
        settings = context.settings
        if settings.twilio_auth_token is None or not settings.public_url:
            raise Knock(403, "Twilio's webhooks are not set up (TWILIO_AUTH_TOKEN, RELANCE_PUBLIC_URL)")
        if not headers.get(SIGNATURE):
            raise Knock(401, "a signed Twilio request is required (X-Twilio-Signature)")
        if not headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
            raise Knock(415, "Twilio posts application/x-www-form-urlencoded")
        return BY

    return check


def twilio_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    async def verified(request: Request, path: str) -> dict[str, str]:
        settings = context.settings
        assert settings.twilio_auth_token is not None and settings.public_url is not None
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        url = settings.public_url.rstrip("/") + path
        validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
        if not validator.validate(url, params, request.headers.get(SIGNATURE, "")):
            raise HTTPException(401, "the Twilio signature does not match this request")
        return params

    @router.post(TWILIO_STATUS, summary="Twilio's status callback (signed): what became of an SMS")
    async def twilio_status(request: Request) -> dict[str, Any]:
        params = await verified(request, TWILIO_STATUS)
        kind = STATUSES.get(params.get("MessageStatus", ""))
        sid = params.get("MessageSid", "")
        if kind is None:
            return {"ignored": params.get("MessageStatus")}
        sent = await asyncio.to_thread(sms_sent, context.engine, sid)
        if sent is None:
            payload = {"MessageSid": sid, "MessageStatus": kind}
            await context.keep_refused("", SmsEvent.name, payload, "no SMS of ours has this MessageSid", BY)
            return {"refused": sid}
        code = params.get("ErrorCode")
        event = SmsEvent(kind=kind, step_id=sent.message_key.split(":", 1)[1], at=datetime.now(UTC),
                         event_id=f"{sid}:{kind}", reason=f"error {code}" if code else None, by=BY)  # fmt: skip
        return {sent.case_id: await _apply(context, sent.case_id, event, {"MessageSid": sid, "MessageStatus": kind})}

    @router.post(TWILIO_INBOUND, summary="An SMS a debtor sent to our number (signed): STOP, or a text for a person")
    async def twilio_inbound(request: Request) -> Response:
        params = await verified(request, TWILIO_INBOUND)
        sender, body = params.get("From", ""), clean_message(params.get("Body", ""), MAX_REPLY_TEXT)
        sid = printable(params.get("MessageSid", "") or "unknown", 100)
        cases = await asyncio.to_thread(cases_texted, context.engine, sender)
        if is_stop(body):
            await asyncio.to_thread(opt_out, context.engine, sender, body)
            for case_id in cases:
                try:
                    event = SmsEvent(kind="stop", step_id="sms", at=datetime.now(UTC), event_id=f"{sid}:stop",
                                     reason=bounded(body, 100), by=BY)  # fmt: skip
                except ValidationError:
                    continue
                await _apply(context, case_id, event, {"From": sender, "Body": body})
        else:
            invoice = cases[0].removeprefix("invoice-") if cases else ""
            why = "" if cases else " (no case of ours texted this number: to triage)"
            script = f"SMS from {sender}{why}:\n\n{body or '(empty)'}\n\nComplete with the outcome as for a call."
            await asyncio.to_thread(
                create_review_task, context.engine, f"sms-{sid}", script, invoice_id=invoice,
                customer_id="unknown", due_on=date.today(), kind="reply", step_id="sms",
            )  # fmt: skip
        return Response(EMPTY_TWIML, media_type="text/xml")

    return router


async def _apply(context: ApiContext, case_id: str, event: SmsEvent, payload: dict[str, str]) -> str:
    invoice_id = case_id.removeprefix("invoice-")
    try:
        await act(await context.temporal(), invoice_id, event)
    except AlreadyRecorded:
        return "already"
    except (ActionRejected, UnknownCase) as err:
        await context.keep_refused(invoice_id, SmsEvent.name, payload, str(err), BY)
        return "refused"
    return "applied"
