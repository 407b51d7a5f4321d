"""Contacting the debtor for one step: e-mail or a phone task for a person.

Right before anything leaves, each attempt re-checks: was this step already done (idempotency key =
case + step), is the sending window still open, and does the case still owe money and still chase
(asked of the case itself, so a payment that arrived a second ago counts).
"""

import asyncio
from decimal import Decimal
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.case_guard import still_wanted_balance
from activities.delivery import deliver_once
from activities.email_delivery import EmailBackend, OutgoingEmail
from activities.side_effects import SideEffects
from relance.domain.account import contacted_today
from relance.domain.activity_contract import (
    CREATE_PHONE_TASK,
    CREATE_PHONE_TASK_ALONE,
    NOT_ALONE,
    SEND_EMAIL,
    SEND_EMAIL_ALONE,
    StepRequest,
    StepResult,
)
from relance.domain.replies import reply_address, token_for
from relance.ledger.customer_days import claim_day, others_open
from relance.ledger.portal import short_link
from relance.ledger.replies import remember_reply_address
from relance.ledger.work_queue import create_task
from relance.rendering.messages import Rendered, render
from relance.settings import Settings


def render_step(
    channel: str, request: StepRequest, balance: Decimal, settings: Settings, extra: dict[str, Any] | None = None
) -> Rendered:
    """A step's text; a broken template fails the step for good (retrying cannot fix it, a person can)."""
    try:
        return render(channel, request, balance, settings, extra)
    except TemplateError as err:
        raise ApplicationError(
            f"template {channel}/{request.template}: {err}", type="TemplateError", non_retryable=True
        ) from err


class DebtorContact:
    def __init__(self, client: Client, settings: Settings, backend: EmailBackend, engine: Engine):
        self.client = client
        self.settings = settings
        self.backend = backend
        self.engine = engine
        self.side_effects = SideEffects(engine)

    def render(
        self, channel: str, request: StepRequest, balance: Decimal, extra: dict[str, Any] | None = None
    ) -> Rendered:
        return render_step(channel, request, balance, self.settings, extra)

    async def short_page_url(self, request: StepRequest) -> str | None:
        """A short link to the customer's page (`<public url>/p/<code>`) for an SMS or a letter, where the signed
        link is too long to type; None when the page is not set up."""
        settings = self.settings
        if settings.portal_secret is None or not settings.public_url:
            return None
        lang = request.customer.language.value
        code = await asyncio.to_thread(short_link, self.engine, request.customer.id, lang, settings.portal_days)
        return f"{settings.public_url.rstrip('/')}/p/{code}"

    @activity.defn(name=SEND_EMAIL)
    async def send_email(self, request: StepRequest) -> StepResult:
        stop, balance = await still_wanted_balance(self.client, request)
        if stop is not None:
            return stop
        return await self.deliver_email(request, self.render("email", request, balance), balance)

    async def deliver_email(
        self,
        request: StepRequest,
        message: Rendered,
        balance: Decimal,
        key: str | None = None,
        covers: tuple[str, ...] = (),
    ) -> StepResult:
        """Send at most once under `key` (the step's own key unless a grouped message brings its own, with the
        step keys it `covers`), with a Reply-To of its own when replies are set up."""
        message_key = key or request.idempotency_key
        reply_to, message_id = await asyncio.to_thread(self._reply_address, request, message_key, covers)
        email = OutgoingEmail(
            to=request.customer.email,
            to_name=request.customer.name,
            sender=self.settings.email_from,
            sender_name=self.settings.creditor_name,
            subject=message.subject,
            text=message.body,
            idempotency_key=key or request.idempotency_key,
            case_id=request.case_id,
            categories=["relance", request.template],
            covers=covers,
            reply_to=reply_to,
            message_id=message_id,
        )
        backend = self.backend
        done = await deliver_once(
            self.side_effects,
            request,
            "email",
            lambda: backend.send(email),
            backend.find_sent if backend.knows_what_it_sent else None,
            key=key,
            detail=message.subject,
        )
        if isinstance(done, StepResult):
            return done
        if done.state == "already_done":
            return StepResult(
                status="already_done", detail="e-mail already sent", channel="email", provider_id=done.provider_id
            )
        return StepResult(
            status="sent",
            channel="email",
            provider_id=done.provider_id,
            balance=balance,
            detail=f"e-mail to {request.customer.email}: {message.subject}",
        )

    def _reply_address(
        self, request: StepRequest, message_key: str, covers: tuple[str, ...]
    ) -> tuple[str | None, str | None]:
        """The message's Reply-To and Message-ID, kept in the ledger before it leaves (a reply finds its cases by
        them); none when replies are not set up (RELANCE_REPLY_DOMAIN, RELANCE_SENDGRID_INBOUND_SECRET)."""
        domain, secret = self.settings.reply_domain, self.settings.sendgrid_inbound_secret
        if not domain or secret is None:
            return None, None
        token = token_for(message_key, secret.get_secret_value().encode())
        message_id = f"<{token}@{domain}>"
        cases = [key.split(":", 1)[0] for key in covers] or [request.case_id]
        remember_reply_address(self.engine, token, message_key, message_id, cases, request.customer.id)
        return reply_address(token, domain), message_id

    @activity.defn(name=SEND_EMAIL_ALONE)
    async def send_email_alone(self, request: StepRequest) -> StepResult:
        """The e-mail of a case whose customer has no other open case, sent without the account's round trip:
        after the last-second checks, and after claiming the customer's day (one e-mail per customer per day,
        whoever writes). `NotAlone` when another case is open: the case hands the step to its account."""
        stop, balance = await still_wanted_balance(self.client, request)
        if stop is not None:
            return stop
        if (not_alone := await self._not_alone(request)) is not None:
            return not_alone
        customer = request.customer.id
        holder = await asyncio.to_thread(claim_day, self.engine, customer, request.as_of, request.idempotency_key)
        if holder is not None:  # another message wrote to the customer today: this one waits a day
            return contacted_today(customer, request.as_of)
        return await self.deliver_email(request, self.render("email", request, balance), balance)

    @activity.defn(name=CREATE_PHONE_TASK_ALONE)
    async def create_phone_task_alone(self, request: StepRequest) -> StepResult:
        """The call task of a case whose customer has no other open case, made without the account's round trip
        (the account gathers the calls due together into one task; alone, there is nothing to gather)."""
        stop, balance = await still_wanted_balance(self.client, request)
        if stop is not None:
            return stop
        if (not_alone := await self._not_alone(request)) is not None:
            return not_alone
        return await self.record_phone_task(request, self.render("phone", request, balance), balance)

    async def _not_alone(self, request: StepRequest) -> StepResult | None:
        """`NotAlone` when the customer has another open case (read right before the step): its account speaks."""
        if await asyncio.to_thread(others_open, self.engine, request.customer.id, request.case_id):
            detail = "the customer has other open cases: its account speaks for them"
            return StepResult(status="deferred", error_type=NOT_ALONE, detail=detail)
        return None

    @activity.defn(name=CREATE_PHONE_TASK)
    async def create_phone_task(self, request: StepRequest) -> StepResult:
        stop, balance = await still_wanted_balance(self.client, request)
        if stop is not None:
            return stop
        return await self.record_phone_task(request, self.render("phone", request, balance), balance)

    async def record_phone_task(self, request: StepRequest, script: Rendered, balance: Decimal) -> StepResult:
        """The step's call task, made once (keyed case + step, so a retry finds the one it made)."""
        task_id, created = await asyncio.to_thread(
            create_task, self.engine, request, "phone", f"{script.subject}\n\n{script.body}"
        )
        return StepResult(
            status="sent" if created else "already_done",
            channel="phone",
            provider_id=str(task_id),
            balance=balance,
            detail=f"phone task #{task_id}: {script.subject}",
        )
