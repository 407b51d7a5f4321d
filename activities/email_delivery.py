"""Where an e-mail leaves: the outbox (one file per message) or SendGrid's v3 mail/send API."""

import urllib.error
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, CustomArg, Header, Mail, ReplyTo

from activities.delivery import DeliveryFailed, DeliveryInDoubt, DeliveryRefused, file_stem, write_whole


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    to_name: str
    sender: str
    sender_name: str
    subject: str
    text: str
    idempotency_key: str
    case_id: str
    categories: list[str] = field(default_factory=list)
    # A grouped e-mail: the step keys (`invoice-<id>:<step>`) of the invoices it covers, so that what the
    # provider reports of it reaches each of their cases (`relance_covers`, comma-separated).
    covers: tuple[str, ...] = ()
    # Where a reply goes (r+<token>@<reply domain>) and the message's own id, which replies quote.
    reply_to: str | None = None
    message_id: str | None = None


class EmailBackend(Protocol):
    channel: str
    # Whether find_sent can tell for sure that a message under a key was or was not delivered.
    knows_what_it_sent: bool

    def send(self, email: OutgoingEmail) -> str:
        """Deliver the message; return the provider's id for it."""
        ...

    def find_sent(self, idempotency_key: str) -> str | None:
        """The provider id of a message already delivered under this key, when the channel can tell."""
        ...


def _file_name(key: str) -> str:
    return file_stem(key) + ".eml"


class OutboxBackend:
    """The embedded default: each message is an RFC 5322 file, written atomically, named by its key."""

    channel = "email"
    knows_what_it_sent = True

    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, email: OutgoingEmail) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        message = EmailMessage()
        message["From"] = f"{email.sender_name} <{email.sender}>"
        message["To"] = f"{email.to_name} <{email.to}>"
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id or make_msgid(domain="relance.local")
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        message["X-Relance-Key"] = email.idempotency_key
        message["X-Relance-Case"] = email.case_id
        if email.covers:
            message["X-Relance-Covers"] = covered(email.covers)
        message.set_content(email.text)
        final = self.directory / _file_name(email.idempotency_key)
        write_whole(final, message.as_bytes())
        return final.name

    def find_sent(self, idempotency_key: str) -> str | None:
        path = self.directory / _file_name(idempotency_key)
        return path.name if path.exists() else None


# SendGrid refuses custom arguments past 10,000 bytes in all; the keys a message covers stay well within.
MAX_COVERS_CHARS = 8_000


def covered(keys: tuple[str, ...]) -> str:
    """The keys a grouped e-mail covers, as one custom argument; past the bound, the first ones only (the
    others' events then reach the case that heads the message)."""
    text = ""
    for key in keys:
        if len(text) + len(key) + 1 > MAX_COVERS_CHARS:
            break
        text = f"{text},{key}" if text else key
    return text


class SendGridBackend:
    """SendGrid v3 through the official client; the key travels in custom_args for reconciliation."""

    channel = "email"
    knows_what_it_sent = False

    def __init__(self, api_key: str, host: str, timeout_seconds: float = 30.0):
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.client.client.timeout = timeout_seconds

    def send(self, email: OutgoingEmail) -> str:
        mail = Mail(
            from_email=(email.sender, email.sender_name),
            to_emails=[(email.to, email.to_name)],
            subject=email.subject,
            plain_text_content=email.text,
        )
        mail.add_custom_arg(CustomArg("relance_key", email.idempotency_key))
        mail.add_custom_arg(CustomArg("relance_case", email.case_id))
        if email.reply_to:
            mail.reply_to = ReplyTo(email.reply_to)
        if email.message_id:
            mail.add_header(Header("Message-ID", email.message_id))
        if email.covers:
            mail.add_custom_arg(CustomArg("relance_covers", covered(email.covers)))
        for category in email.categories:
            mail.add_category(Category(category))
        try:
            response = self.client.send(mail)
        except HTTPError as exc:
            detail = f"SendGrid answered {exc.status_code}: {_body(exc)}"
            if exc.status_code == 429 or exc.status_code >= 500:
                raise DeliveryFailed(detail) from exc
            raise DeliveryRefused(detail) from exc
        except TimeoutError as exc:
            raise DeliveryInDoubt(f"SendGrid did not answer in time: {exc}") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise DeliveryInDoubt(f"SendGrid did not answer in time: {exc.reason}") from exc
            raise DeliveryFailed(f"SendGrid unreachable: {exc.reason}") from exc
        except ConnectionError as exc:
            raise DeliveryFailed(f"SendGrid unreachable: {exc}") from exc
        return str(response.headers.get("X-Message-Id") or f"sendgrid-{response.status_code}")

    def find_sent(self, idempotency_key: str) -> str | None:
        return None


def _body(exc: HTTPError) -> str:
    body = exc.body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return text[:500]
