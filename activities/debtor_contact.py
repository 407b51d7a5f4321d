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

from activities.case_guard import live_balance, still_wanted
from activities.email_delivery import (
    DeliveryFailed,
    DeliveryInDoubt,
    DeliveryRefused,
    EmailBackend,
    OutgoingEmail,
)
from activities.side_effects import SideEffects
from relance.rendering import Rendered, render
from relance.settings import Settings
from relance.steps import CREATE_PHONE_TASK, SEND_EMAIL, StepRequest, StepResult
from relance.work_queue import create_task


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

    async def _still_wanted(self, request: StepRequest) -> tuple[StepResult | None, Decimal]:
        stop, status = await still_wanted(self.client, request)
        return stop, live_balance(status)

    def render(self, channel: str, request: StepRequest, balance: Decimal) -> Rendered:
        return render_step(channel, request, balance, self.settings)

    @activity.defn(name=SEND_EMAIL)
    async def send_email(self, request: StepRequest) -> StepResult:
        stop, balance = await self._still_wanted(request)
        if stop is not None:
            return stop
        return await self.deliver_email(request, self.render("email", request, balance), balance)

    async def deliver_email(
        self, request: StepRequest, message: Rendered, balance: Decimal, key: str | None = None
    ) -> StepResult:
        """Send at most once under `key` (the step's own key unless a grouped message brings its own)."""
        key = key or request.idempotency_key
        claim = await asyncio.to_thread(self.side_effects.claim, key, request.case_id, request.step_id, "email")
        if claim.state == "sent":
            return StepResult(
                status="already_done", detail="e-mail already sent", channel="email", provider_id=claim.provider_id
            )
        if claim.state == "in_doubt":
            found = self.backend.find_sent(key) if self.backend.knows_what_it_sent else None
            if found is not None:
                await asyncio.to_thread(self.side_effects.confirm, key, found, "found already delivered")
                return StepResult(
                    status="already_done", detail="e-mail already delivered", channel="email", provider_id=found
                )
            if not self.backend.knows_what_it_sent:
                return StepResult(
                    status="in_doubt",
                    channel="email",
                    detail="an earlier attempt stopped mid-send; not repeated, check the provider",
                )
        email = OutgoingEmail(
            to=request.customer.email,
            to_name=request.customer.name,
            sender=self.settings.email_from,
            sender_name=self.settings.creditor_name,
            subject=message.subject,
            text=message.body,
            idempotency_key=key,
            case_id=request.case_id,
            categories=["relance", request.template],
        )
        try:
            provider_id = await asyncio.to_thread(self.backend.send, email)
        except DeliveryInDoubt as err:
            return StepResult(status="in_doubt", channel="email", detail=str(err))
        except DeliveryRefused as err:
            await asyncio.to_thread(self.side_effects.release, key, str(err))
            raise ApplicationError(str(err), type="DeliveryRefused", non_retryable=True) from err
        except DeliveryFailed as err:
            await asyncio.to_thread(self.side_effects.release, key, str(err))
            raise ApplicationError(str(err), type="DeliveryFailed") from err
        await asyncio.to_thread(self.side_effects.confirm, key, provider_id, message.subject)
        return StepResult(
            status="sent",
            channel="email",
            provider_id=provider_id,
            balance=balance,
            detail=f"e-mail to {request.customer.email}: {message.subject}",
        )

    @activity.defn(name=CREATE_PHONE_TASK)
    async def create_phone_task(self, request: StepRequest) -> StepResult:
        stop, balance = await self._still_wanted(request)
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
