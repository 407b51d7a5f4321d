"""Where a registered letter leaves: the print outbox (embedded default) or an e-registered-letter provider.

A provider takes the PDF and the recipient and returns its own id for the letter (the tracking number
comes later, with the proof of delivery, as the `registered_letter_delivered` ops action).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from temporalio.exceptions import ApplicationError

from activities.delivery import file_stem, write_whole
from relance.domain.activity_contract import StepRequest


@dataclass(frozen=True)
class Letter:
    idempotency_key: str
    case_id: str
    recipient: str
    address: list[str]
    subject: str
    pdf: bytes
    service: str = "LRAR"  # lettre recommandée avec demande d'avis de réception; "simple": an ordinary letter


class LetterProvider(Protocol):
    """What a letter channel must offer.

    An e-registered-letter provider (an eIDAS-qualified service such as La Poste's or Maileva's registered
    mail API) implements `send` by uploading the PDF with the key as its client reference, and `find_sent`
    by looking that reference up, so that an attempt that died mid-send is never posted twice. A consumer
    must have agreed to electronic registered mail first (CPCE L100).
    """

    knows_what_it_sent: bool

    def send(self, letter: Letter) -> str: ...

    def find_sent(self, idempotency_key: str) -> str | None: ...


def address_lines(request: StepRequest) -> list[str]:
    """The debtor's postal address as a letter prints it (a country line only abroad); refused without one."""
    address = request.customer.address
    if address is None:
        message = f"no postal address for {request.customer.name}: record one with contact_updated"
        raise ApplicationError(message, type="DeliveryRefused", non_retryable=True)
    lines = [address.line1, *([address.line2] if address.line2 else []), f"{address.postal_code} {address.city}"]
    return lines if address.country == "FR" else [*lines, address.country]


class PrintOutbox:
    """Letters to print and post: the PDF and a manifest per letter, in one folder the mail room empties."""

    knows_what_it_sent = True

    def __init__(self, folder: Path):
        self.folder = folder

    def path_for(self, idempotency_key: str) -> Path:
        return self.folder / f"{file_stem(idempotency_key)}.pdf"

    def send(self, letter: Letter) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        pdf_path = self.path_for(letter.idempotency_key)
        manifest = {
            "service": letter.service,
            "case_id": letter.case_id,
            "recipient": letter.recipient,
            "address": letter.address,
            "subject": letter.subject,
            "pdf": pdf_path.name,
            "queued_at": datetime.now(UTC).isoformat(),
        }
        pdf_path.with_suffix(".json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        write_whole(pdf_path, letter.pdf)  # the PDF appears last and whole: its presence means the letter is queued
        return f"print:{pdf_path.name}"

    def find_sent(self, idempotency_key: str) -> str | None:
        path = self.path_for(idempotency_key)
        return f"print:{path.name}" if path.exists() else None
