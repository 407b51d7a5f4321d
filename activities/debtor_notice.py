"""Where a notice the debtor asked for leaves (relance/domain/notices.py): a fresh link to their page, or a
person's answer to their request. To the address the case holds (never one typed on the page), at most once per
notice key (the same guard as every step), in the customer's language; not to an address flagged as bouncing or
unsubscribed."""

from datetime import date

from babel.dates import format_date
from jinja2 import TemplateError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.debtor_contact import DebtorContact
from activities.delivery import deliver_keyed
from activities.email_delivery import OutgoingEmail
from relance.domain.activity_contract import StepResult
from relance.domain.case import CaseState
from relance.domain.notices import REQUEST_WORDS, SEND_DEBTOR_NOTICE, DebtorNotice
from relance.rendering.messages import LOCALES, portal_url, render_notice


def _day(iso: str, lang: str) -> str:
    return format_date(date.fromisoformat(iso), format="long", locale=LOCALES[lang]) if iso else ""


class DebtorNotices:
    def __init__(self, contact: DebtorContact):
        self.contact = contact

    @activity.defn(name=SEND_DEBTOR_NOTICE)
    async def send_debtor_notice(self, notice: DebtorNotice) -> str:
        """What became of the notice, in words (the run's result)."""
        case_id = f"invoice-{notice.invoice_id}"
        state = await self.contact.client.get_workflow_handle(case_id).query("case_state", result_type=CaseState)
        customer = state.case.customer
        if customer.id != notice.customer_id:
            return f"not sent: {notice.invoice_id} is not an invoice of {notice.customer_id}"
        if state.flags.email_invalid:
            return f"not sent: the address on file is flagged ({state.flags.email_invalid})"
        settings, lang = self.contact.settings, customer.language.value
        values = {
            "customer_name": customer.name,
            "creditor_name": settings.creditor_name,
            "portal_url": portal_url(customer.id, settings, lang),
            "invoice_id": notice.invoice_id,
            "asked": REQUEST_WORDS[lang].get(notice.asked, notice.asked),
            "asked_on": _day(notice.asked_on, lang),
            "accepted": notice.accepted,
            "note": notice.note,
        }
        try:
            message = render_notice(notice.kind, lang, values, settings)
        except TemplateError as err:
            raise ApplicationError(f"notice {notice.kind}: {err}", type="TemplateError", non_retryable=True) from err
        backend = self.contact.backend
        email = OutgoingEmail(
            to=customer.email, to_name=customer.name, sender=settings.email_from, sender_name=settings.creditor_name,
            subject=message.subject, text=message.body, idempotency_key=f"notice:{notice.key}", case_id=case_id,
            categories=["relance", f"notice_{notice.kind}"],
        )  # fmt: skip
        done = await deliver_keyed(
            self.contact.side_effects, email.idempotency_key, case_id, f"notice-{notice.kind}", "email",
            lambda: backend.send(email), backend.find_sent if backend.knows_what_it_sent else None, message.subject,
        )  # fmt: skip
        if isinstance(done, StepResult):  # in doubt: never sent blindly again
            return f"in doubt: {message.subject} to {customer.email} may have left ({done.detail}); not sent again"
        return f"{'sent' if done.state == 'done' else 'already sent'}: {message.subject} to {customer.email}"
