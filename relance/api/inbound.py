"""A debtor's reply reaches its case: SendGrid's Inbound Parse (`POST /webhooks/sendgrid/inbound/<secret>`).

SendGrid posts each mail received on the reply domain as multipart/form-data (its fields `from`, `to`,
`subject`, `text`, `html`, `headers`, `envelope`, `attachment-info` and the files `attachment1`…). The door
refuses a wrong secret, a body over the limit and anything but a form before the body is read. The reply
finds the message it answers by the token of its Reply-To address (else by the Message-IDs it quotes) and
becomes a `reply_received` on each case that message spoke for (several for a grouped e-mail). Unless a
machine wrote it (an out-of-office), the chase stops and a person gets a task with the text; a reply that
matches no message, or whose case is closed, becomes a task too. The answer is 200 once the reply is kept,
so that SendGrid does not post it again; the same reply posted again changes nothing.
"""

import asyncio
import hashlib
import hmac
import json
import re
from datetime import UTC, date, datetime
from email.parser import HeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.datastructures import Headers, UploadFile

from relance.api.context import ApiContext
from relance.api.uploads import keep_uploads
from relance.domain.actions import ReplyReceived
from relance.domain.limits import MAX_REPLY_TEXT, bounded, clean_message, printable
from relance.domain.replies import html_text, is_automatic, new_text, tokens_in
from relance.doors import Check, Knock
from relance.ledger.replies import Addressed, find_addressed
from relance.ledger.work_queue import create_review_task
from starter.ops import ActionRejected, AlreadyRecorded, UnknownCase, act

SENDGRID_INBOUND = "/webhooks/sendgrid/inbound"
BY = "sendgrid inbound"
# What a reply may bring along, kept in the documents store: documents and pictures, nothing that runs.
ATTACHMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain"})
MAX_ATTACHMENTS = 20


def inbound_door(context: ApiContext, path: str) -> Check:
    """The door's check, before the body: set up, the secret of the URL, and a form."""

    async def check(headers: Headers) -> str:
        settings = context.settings
        secret = settings.sendgrid_inbound_secret
        if secret is None or not settings.reply_domain:
            raise Knock(403, "replies are not set up (RELANCE_REPLY_DOMAIN, RELANCE_SENDGRID_INBOUND_SECRET)")
        given = path.removeprefix(f"{SENDGRID_INBOUND}/").encode()
        if not hmac.compare_digest(given, secret.get_secret_value().encode()):
            raise Knock(401, "this inbound address is not the one given to SendGrid")
        if not headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise Knock(415, "SendGrid's Inbound Parse posts multipart/form-data")
        return BY

    return check


def inbound_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.post(
        SENDGRID_INBOUND + "/{secret}",
        summary="SendGrid's Inbound Parse: a reply reaches the case its message spoke for",
    )
    async def sendgrid_inbound(request: Request, secret: str) -> dict[str, Any]:
        try:
            size = context.settings.sendgrid_inbound_max_bytes  # a long text or HTML part is no attachment
            form = await request.form(max_files=MAX_ATTACHMENTS, max_fields=100, max_part_size=size)
        except Exception as err:  # python-multipart's refusals are not one class: each is a malformed form
            said = getattr(err, "detail", None) or str(err)  # Starlette's own refusal, or python-multipart's
            raise HTTPException(400, f"not a form SendGrid posts: {bounded(str(said), 200)}") from None
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        files = [v for k, v in form.multi_items() if isinstance(v, UploadFile) and k.startswith("attachment")]
        return await _take(context, fields, files)

    return router


async def _take(context: ApiContext, fields: dict[str, str], files: list[UploadFile]) -> dict[str, Any]:
    settings = context.settings
    assert settings.reply_domain is not None
    headers = dict(HeaderParser().parsestr(fields.get("headers", "")).items())
    subject = printable(fields.get("subject", headers.get("Subject", "")), 200)
    sender = parseaddr(fields.get("from", headers.get("From", "")))[1] or "unknown sender"
    reply_id = _reply_id(headers, fields)
    envelope = _envelope(fields.get("envelope", ""))
    recipients = [fields.get("to", ""), *envelope]
    tokens = tokens_in(recipients, settings.reply_domain)
    quoted = re.findall(r"<[^<>\s]+>", f"{headers.get('In-Reply-To', '')} {headers.get('References', '')}")
    addressed = await asyncio.to_thread(find_addressed, context.engine, tokens, quoted)
    body = fields.get("text") or html_text(fields.get("html", ""))
    text = clean_message(new_text(body), MAX_REPLY_TEXT)
    automatic = is_automatic(headers, subject)
    kept, refused = await asyncio.to_thread(
        keep_uploads, settings.documents_dir, "replies", reply_id, files, ATTACHMENT_TYPES
    )
    received = _received_at(headers)
    answer: dict[str, Any] = {"reply": reply_id, "automatic": automatic, "cases": {}, "attachments_refused": refused}
    if addressed is None:
        await _task(
            context, f"reply-{reply_id}", "", "", sender, subject, text, refused, why="matches no message of ours"
        )
        answer["triage"] = True
        return answer
    for case_id in addressed.case_ids:
        invoice_id = case_id.removeprefix("invoice-")
        try:
            action = ReplyReceived(
                reply_id=reply_id, sender=printable(sender, 200), subject=subject, received_at=received, text=text,
                automatic=automatic, attachments=kept, by=BY,
            )  # fmt: skip
        except ValidationError as err:
            raise HTTPException(422, f"the reply cannot be recorded: {bounded(str(err), 300)}") from None
        outcome = await _reply(context, invoice_id, action, addressed, sender, subject, text, refused)
        answer["cases"][invoice_id] = outcome
    return answer


async def _reply(
    context: ApiContext,
    invoice_id: str,
    action: ReplyReceived,
    addressed: Addressed,
    sender: str,
    subject: str,
    text: str,
    refused: list[str],
) -> str:
    client = await context.temporal()
    key = f"reply-{action.reply_id}-{invoice_id}"
    try:
        await act(client, invoice_id, action)
    except AlreadyRecorded:
        return "already"
    except (ActionRejected, UnknownCase) as err:
        payload = {"reply_id": action.reply_id, "sender": sender, "subject": subject}
        await context.keep_refused(invoice_id, action.name, payload, str(err), BY)
        why = f"could not reach case {invoice_id}: {bounded(str(err), 200)}"
        await _task(context, key, invoice_id, addressed.customer_id, sender, subject, text, refused, why=why)
        return "refused"
    if not action.automatic:
        await _task(context, key, invoice_id, addressed.customer_id, sender, subject, text, refused, why=None)
    return "applied"


async def _task(
    context: ApiContext,
    key: str,
    invoice_id: str,
    customer_id: str,
    sender: str,
    subject: str,
    text: str,
    refused: list[str],
    *,
    why: str | None,
) -> None:
    """A person reads the reply: its text (never its HTML), and what was not kept of it."""
    lines = [f"Reply from {sender}: {subject or '(no subject)'}"]
    if why:
        lines.append(f"(to triage: it {why})")
    lines += ["", text or "(no text)"]
    if refused:
        lines += ["", f"attachments not kept: {', '.join(refused)}"]
    lines += ["", "Complete with the outcome (paid, promise, dispute, plan…) as for a call."]
    await asyncio.to_thread(
        create_review_task, context.engine, key, "\n".join(lines), invoice_id=invoice_id,
        customer_id=customer_id or "unknown", due_on=date.today(), kind="reply", step_id="reply",
    )  # fmt: skip


def _reply_id(headers: dict[str, str], fields: dict[str, str]) -> str:
    """The reply's Message-ID (bounded), else a digest of what it says: the same mail posted again is one reply."""
    message_id = headers.get("Message-ID", "").strip()
    if message_id and len(message_id) <= 150:
        return printable(message_id, 150)
    digest = hashlib.sha256("|".join(fields.get(k, "") for k in ("from", "subject", "text", "html")).encode())
    return f"sha256:{digest.hexdigest()[:32]}"


def _envelope(raw: str) -> list[str]:
    try:
        envelope = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return []
    to = envelope.get("to", []) if isinstance(envelope, dict) else []
    return [str(a) for a in to if isinstance(a, str)][:50]


def _received_at(headers: dict[str, str]) -> datetime:
    try:
        when = parsedate_to_datetime(headers["Date"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
