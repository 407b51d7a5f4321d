"""Debtor-facing text: Jinja2 templates per channel and language, figures formatted by Babel."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from relance.domain.activity_contract import StepRequest
from relance.domain.invoice import Customer, Language
from relance.domain.money import format_money
from relance.domain.policy import Policy, StepAction
from relance.domain.portal_links import sign_link
from relance.domain.sms import MAX_SEGMENTS, segments, sms_text
from relance.settings import Settings

LOCALES = {"fr": "fr_FR", "en": "en_GB"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@lru_cache(maxsize=4)
def _environment(template_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(template_dir),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def portal_url(customer_id: str, settings: Settings, lang: str = "fr") -> str | None:
    """A fresh link to the customer's own page, when the page is set up (RELANCE_PORTAL_SECRET, RELANCE_PUBLIC_URL)."""
    if settings.portal_secret is None or not settings.public_url:
        return None
    link = sign_link(settings.portal_secret.get_secret_value(), customer_id, lang)
    return f"{settings.public_url.rstrip('/')}/portal/{link}"


def message_context(request: StepRequest, balance: Decimal, settings: Settings) -> dict[str, Any]:
    lang = request.customer.language.value
    locale = LOCALES[lang]

    def money(amount: Decimal) -> str:
        return format_money(amount, request.currency, lang)

    def day(value: date) -> str:
        return format_date(value, format="long", locale=locale)

    paid = request.amount - balance
    context: dict[str, Any] = {
        "customer_name": request.customer.name,
        "customer_email": request.customer.email,
        "invoice_id": request.invoice_id,
        "issue_date": day(request.issue_date),
        "due_date": day(request.due_date),
        "amount": money(request.amount),
        "balance": money(balance),
        "paid": money(paid) if paid > 0 else None,
        "days_late": max(0, (request.as_of - request.due_date).days),
        "days_late_text": format_unit(
            max(0, (request.as_of - request.due_date).days), "duration-day", length="long", locale=locale
        ),
        "days_to_due": max(0, (request.due_date - request.as_of).days),
        "business": request.customer.kind.value == "business",
        "recovery_indemnity": money(Decimal("40")) if request.currency == "EUR" else None,
        "creditor_name": settings.creditor_name,
        "portal_url": portal_url(request.customer.id, settings, lang),
        "creditor_iban": settings.creditor_iban,
        "installment": None,
        "limitation_date": day(request.limitation_date) if request.limitation_date else None,
        "einvoice_received_on": day(request.einvoice_received_on) if request.einvoice_received_on else None,
        "credited_now": money(request.credited_now) if request.credited_now else None,
        "pay_by": day(request.pay_by) if request.pay_by else None,
        "offer_amount": money(request.offer_amount) if request.offer_amount is not None else None,
        "waived": request.waived or [],
        "given_up": money(balance - request.offer_amount) if request.offer_amount is not None else None,
    }
    if request.installment is not None:
        inst = request.installment
        context["installment"] = {
            "number": inst.number,
            "of": inst.of,
            "amount": money(inst.amount),
            "due_on": day(inst.due_on),
        }
    return context


def render(
    channel: str, request: StepRequest, balance: Decimal, settings: Settings, extra: dict[str, Any] | None = None
) -> Rendered:
    env = _environment(settings.template_dir)
    name = f"{channel}/{request.template}.{request.customer.language.value}.j2"
    return _rendered(env.get_template(name), message_context(request, balance, settings) | (extra or {}))


def render_notice(kind: str, lang: str, context: dict[str, Any], settings: Settings) -> Rendered:
    """A notice the debtor asked for (relance/domain/notices.py): templates/email/notice_<kind>.<lang>.j2."""
    return _rendered(_environment(settings.template_dir).get_template(f"email/notice_{kind}.{lang}.j2"), context)


def _rendered(template: Template, context: dict[str, Any]) -> Rendered:
    bound = template.new_context(context)
    subject = "".join(template.blocks["subject"](bound)).strip()
    body = "".join(template.blocks["body"](bound)).strip() + "\n"
    return Rendered(subject=subject, body=body)


def render_grouped(template: str, items: list[tuple[StepRequest, Decimal]], tone: int, settings: Settings) -> Rendered:
    """One message for several invoices of a customer (templates/customer/), in the customer's language."""
    first = items[0][0]
    lang = first.customer.language.value
    rows = [message_context(request, balance, settings) for request, balance in items]
    total = sum((balance for _, balance in items), Decimal(0))
    context = rows[0] | {
        "invoices": rows,
        "total": format_money(total, first.currency, lang),
        "tone": tone,
    }
    return _rendered(_environment(settings.template_dir).get_template(f"customer/{template}.{lang}.j2"), context)


def sms_problems(policy: Policy, settings: Settings) -> list[str]:
    """Each SMS step whose text, for a long invoice number and a large amount, takes more segments than an SMS
    may (and in which encoding): what `relance policy check` refuses."""
    problems = []
    for n, step in enumerate(policy.steps):
        if step.action is not StepAction.sms:
            continue
        for lang in Language:
            request = StepRequest(
                case_id="invoice-FAC-2026-000000000001", invoice_id="FAC-2026-000000000001", step_id=step.id,
                idempotency_key=f"invoice-FAC-2026-000000000001:{step.id}", template=step.template,
                customer=Customer.model_validate(
                    {"id": "C-1", "name": "Société des Établissements Exemple", "email": "a@example.com",
                     "kind": "business", "language": lang.value,
                     "address": {"line1": "1 rue X", "postal_code": "75001", "city": "Paris", "country": "FR"}}
                ),
                amount=Decimal("1234567.89"), currency="EUR", issue_date=date(2026, 1, 1), due_date=date(2026, 1, 31),
                as_of=date(2026, 3, 31),
            )  # fmt: skip
            short = f"{settings.public_url.rstrip('/')}/p/{'x' * 12}" if settings.public_url else None
            text = sms_text(render("sms", request, request.amount, settings, {"portal_url": short}).body)
            size = segments(text)
            if size.count > MAX_SEGMENTS:
                problems.append(
                    f"steps[{n}] ({step.id}): template sms/{step.template}.{lang.value} takes {size.count} "
                    f"{size.encoding} segments ({size.units} units) for a long invoice; at most {MAX_SEGMENTS}"
                )
    return problems
