"""Where an SMS leaves: a folder of files (embedded default) or Twilio, through its official client; and the
`send_sms` activity of a policy's `sms` step: a mobile number in E.164, not opted out, the text within a few
segments, sent at most once per case and step after the last-second check of the case."""

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from activities.case_guard import still_wanted_balance
from activities.debtor_contact import DebtorContact
from activities.delivery import DeliveryFailed, DeliveryRefused, deliver_once, file_stem
from relance.domain.activity_contract import SEND_SMS, StepRequest, StepResult
from relance.domain.sms import MAX_SEGMENTS, mobile_number, segments, sms_text
from relance.ledger.sms_ledger import opted_out, remember_sms
from relance.settings import Settings

STATUS_PATH = "/webhooks/twilio/status"


@dataclass(frozen=True)
class OutgoingSms:
    idempotency_key: str
    case_id: str
    to: str  # E.164
    text: str


class SmsBackend(Protocol):
    knows_what_it_sent: bool

    def send(self, sms: OutgoingSms) -> str:
        """Send; the provider's id for the message."""
        ...

    def find_sent(self, idempotency_key: str) -> str | None: ...


class SmsOutbox:
    """Each SMS as a JSON file in a folder (the demo, the tests, a gateway that reads files)."""

    knows_what_it_sent = True

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / f"{file_stem(key)}.json"

    def send(self, sms: OutgoingSms) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"to": sms.to, "text": sms.text, "case_id": sms.case_id, "queued_at": datetime.now(UTC).isoformat()}
        partial = self._path(sms.idempotency_key).with_suffix(".partial")
        partial.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        partial.replace(self._path(sms.idempotency_key))
        return f"sms:{self._path(sms.idempotency_key).stem}"

    def find_sent(self, idempotency_key: str) -> str | None:
        path = self._path(idempotency_key)
        return f"sms:{path.stem}" if path.exists() else None


class TwilioSms:
    """Twilio's Messages API through its official client; the status of each SMS is posted back to
    RELANCE_PUBLIC_URL + /webhooks/twilio/status when that is set."""

    knows_what_it_sent = False

    def __init__(self, settings: Settings, timeout_seconds: float = 30.0):
        if not settings.twilio_account_sid or settings.twilio_auth_token is None or not settings.twilio_from:
            raise ValueError("the twilio SMS backend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM")
        token = settings.twilio_auth_token.get_secret_value()
        self.client = TwilioClient(
            settings.twilio_account_sid, token, http_client=TwilioHttpClient(timeout=timeout_seconds)
        )
        self.client.api.base_url = settings.twilio_api_base.rstrip("/")
        self.sender = settings.twilio_from
        self.callback = f"{settings.public_url.rstrip('/')}{STATUS_PATH}" if settings.public_url else None

    def send(self, sms: OutgoingSms) -> str:
        sender = {"messaging_service_sid": self.sender} if self.sender.startswith("MG") else {"from_": self.sender}
        extra = {"status_callback": self.callback} if self.callback else {}
        try:
            message = self.client.messages.create(to=sms.to, body=sms.text, **sender, **extra)
        except TwilioRestException as err:
            detail = f"Twilio answered {err.status}: {err.msg} (code {err.code})"
            if err.status == 429 or err.status >= 500:
                raise DeliveryFailed(detail) from err
            raise DeliveryRefused(detail) from err
        return str(message.sid)

    def find_sent(self, idempotency_key: str) -> str | None:
        return None


def sms_backend(settings: Settings) -> SmsBackend:
    return TwilioSms(settings) if settings.sms_backend == "twilio" else SmsOutbox(settings.sms_outbox_dir)


class SmsReminders:
    def __init__(self, contact: DebtorContact, backend: SmsBackend):
        self.contact, self.backend = contact, backend

    @activity.defn(name=SEND_SMS)
    async def send_sms(self, request: StepRequest) -> StepResult:
        stop, balance = await still_wanted_balance(self.contact.client, request)
        if stop is not None:
            return stop
        customer = request.customer
        country = customer.address.country if customer.address else None
        try:
            to = mobile_number(customer.phone, country)
        except ValueError as err:
            raise ApplicationError(f"no SMS: {err}", type="DeliveryRefused", non_retryable=True) from None
        engine = self.contact.engine
        stopped = await asyncio.to_thread(opted_out, engine, to)
        if stopped is not None:  # for good: the step fails with why, and the case goes on to its next step
            message = f"no SMS: {to} answered STOP on {stopped:%Y-%m-%d}"
            raise ApplicationError(message, type="DeliveryRefused", non_retryable=True)
        page = await self.contact.short_page_url(request)
        text = sms_text(self.contact.render("sms", request, balance, {"portal_url": page}).body)
        size = segments(text)
        if size.count > MAX_SEGMENTS:  # `relance policy check` refuses such a template; a long name can still
            message = f"no SMS: the text takes {size.count} {size.encoding} segments, more than {MAX_SEGMENTS}"
            raise ApplicationError(message, type="DeliveryRefused", non_retryable=True)
        sms = OutgoingSms(request.idempotency_key, request.case_id, to, text)
        find = self.backend.find_sent if self.backend.knows_what_it_sent else None
        done = await deliver_once(
            self.contact.side_effects, request, "sms", lambda: self.backend.send(sms), find, detail=text[:80]
        )
        if isinstance(done, StepResult):
            return done
        if done.provider_id:
            await asyncio.to_thread(
                remember_sms, engine, done.provider_id, request.idempotency_key, request.case_id, to
            )
        return StepResult(
            status="sent" if done.state == "done" else "already_done",
            channel="sms",
            provider_id=done.provider_id,
            balance=balance,
            detail=f"SMS to {to} ({size.count} {size.encoding} segment{'s' if size.count > 1 else ''}): {text}",
        )
