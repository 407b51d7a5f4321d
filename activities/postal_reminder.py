"""Where an ordinary reminder letter leaves (a `letter` step): the e-mail's words on paper, through the same
letter channel as the formal notice (the print outbox by default), at most once per case and step."""

import asyncio

from temporalio import activity

from activities.case_guard import still_wanted_balance
from activities.debtor_contact import DebtorContact
from activities.delivery import deliver_once
from activities.letter_delivery import Letter, LetterProvider, address_lines
from relance.domain.activity_contract import SEND_LETTER, StepRequest, StepResult
from relance.rendering.documents import Party, creditor_party, letter_date, reminder_letter_pdf


class PostalReminders:
    def __init__(self, contact: DebtorContact, letters: LetterProvider):
        self.contact, self.letters = contact, letters

    @activity.defn(name=SEND_LETTER)
    async def send_letter(self, request: StepRequest) -> StepResult:
        """Checked against the case right before (paid, paused: not sent), then posted once."""
        stop, balance = await still_wanted_balance(self.contact.client, request)
        if stop is not None:
            return stop
        address = address_lines(request)
        page = await self.contact.short_page_url(request)  # typed from paper, or scanned from the QR code
        text = self.contact.render("email", request, balance, {"portal_url": page})
        pdf = await asyncio.to_thread(self._pdf, request, address, text.subject, text.body, page)
        letter = Letter(request.idempotency_key, request.case_id, request.customer.name, address, text.subject, pdf,
                        service="simple")  # fmt: skip
        find = self.letters.find_sent if self.letters.knows_what_it_sent else None
        done = await deliver_once(
            self.contact.side_effects, request, "letter", lambda: self.letters.send(letter), find, detail=text.subject
        )
        if isinstance(done, StepResult):
            return done
        return StepResult(
            status="sent" if done.state == "done" else "already_done",
            channel="letter",
            provider_id=done.provider_id,
            balance=balance,
            detail=f"letter by post ({done.provider_id}): {text.subject}",
        )

    def _pdf(self, request: StepRequest, address: list[str], subject: str, body: str, page: str | None) -> bytes:
        return reminder_letter_pdf(
            creditor=creditor_party(self.contact.settings),
            debtor=Party(request.customer.name, address, request.customer.id),
            dated=letter_date(request.as_of, request.customer.language.value),
            page_url=page,
            subject=subject,
            body=body,
        )
