"""The debtor's own page (`GET /portal/<link>`): what the customer owes, and how to pay it, in French or English.

No staff token: the link is the key (signed, expiring, revocable, one customer: relance/ledger/portal.py), so the
page shows that customer's open invoices and nothing else, and no one's contact details. An expired or withdrawn
link says so, and tells the debtor that a fresh one comes with the next message (never sent to an address typed
on the page). Not yet: the debtor's actions (paid, promise, plan, dispute, details, card payment, e-mandate)."""

import asyncio
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from babel.dates import format_date
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from relance.api.context import ApiContext
from relance.api.sales_page import language
from relance.domain.money import format_money
from relance.domain.portal_links import LinkExpired, LinkRefused, LinkRevoked
from relance.ledger.customer_view import open_cases_of
from relance.ledger.portal import read_link

PORTAL = "/portal"
TEXTS = {
    "fr": {
        "title": "Vos factures", "other_language": "English", "hello": "Bonjour", "total": "Total à régler",
        "invoice": "Facture", "due_date": "Échéance", "amount": "Montant", "left": "Reste dû",
        "days_late": "Jours de retard", "nothing_due": "Aucune facture ouverte : merci.",
        "how_to_pay": "Comment régler", "transfer_to": "Par virement à l'ordre de",
        "quote_reference": "Indiquez le numéro de chaque facture réglée en référence du virement.",
        "as_of": "Situation au", "questions": "Une question ? Répondez simplement à notre dernier message.",
        "invalid": "Ce lien n'est pas valide.", "expired": "Ce lien a expiré.", "revoked": "Ce lien a été retiré.",
        "ask_again": "Un nouveau lien vous parviendra avec notre prochain message, à l'adresse que nous connaissons.",
    },
    "en": {
        "title": "Your invoices", "other_language": "Français", "hello": "Hello", "total": "Total to pay",
        "invoice": "Invoice", "due_date": "Due", "amount": "Amount", "left": "Left to pay", "days_late": "Days late",
        "nothing_due": "No open invoice: thank you.", "how_to_pay": "How to pay", "transfer_to": "By transfer to",
        "quote_reference": "Quote the number of each invoice you pay as the transfer's reference.",
        "as_of": "Standing at", "questions": "A question? Simply reply to our last message.",
        "invalid": "This link is not valid.", "expired": "This link has expired.",
        "revoked": "This link was withdrawn.",
        "ask_again": "A fresh link comes with our next message, to the address we have on file.",
    },
}  # fmt: skip
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["j2", "html"])
)


def portal_router(context: ApiContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    settings = context.settings

    def page(lang: str, status: int, **values: object) -> HTMLResponse:
        def money(amount: Decimal, currency: str) -> str:
            return format_money(amount, currency, lang)

        def day(value: date) -> str:
            return format_date(value, format="long" if lang == "fr" else "d MMM y", locale=lang)

        html = templates.get_template("portal.html.j2").render(
            t=TEXTS[lang], lang=lang, other_lang="en" if lang == "fr" else "fr", money=money, day=day, **values
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key: never passed on
        return response

    @router.get(PORTAL + "/{link}")
    async def debtor_page(
        request: Request, link: str, lang: Annotated[str | None, Query(max_length=5)] = None
    ) -> HTMLResponse:
        chosen = language(request, lang)
        secret = settings.portal_secret
        try:
            if secret is None:
                raise LinkRefused("the page is not set up")
            customer = await asyncio.to_thread(
                read_link, context.engine, secret.get_secret_value(), link, settings.portal_days
            )
        except LinkRefused as err:
            kind = {LinkExpired: "expired", LinkRevoked: "revoked"}.get(type(err), "invalid")
            return page(chosen, 410 if kind != "invalid" else 404, refusal=TEXTS[chosen][kind], refusal_kind=kind)
        today = date.today()
        name, invoices = await asyncio.to_thread(open_cases_of, context.engine, customer, today)
        totals: dict[str, Decimal] = {}
        for invoice in invoices:
            totals[invoice.currency] = totals.get(invoice.currency, Decimal("0.00")) + invoice.balance
        return page(
            chosen, 200, refusal=None, customer_name=name or customer, invoices=invoices, totals=totals,
            iban=settings.creditor_iban, creditor=settings.creditor_name, as_of=today,
        )  # fmt: skip

    return router
