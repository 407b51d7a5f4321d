"""The sales page: a server-rendered page where a sales person finds a customer and sees its standing before a
visit, in French or English. It reads what `GET /customers/{id}/standing` returns (the same ledger function).

Signing in puts the API token in an HttpOnly, SameSite=Strict cookie scoped to the page; every request looks it
up again, so a revoked token signs the page out at once."""

import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from relance.api.context import ApiContext
from relance.api.pages import formatters, private_page
from relance.domain.access import Role
from relance.ledger.api_tokens import Caller
from relance.ledger.customer_view import UnknownCustomer, search_customers, standing_card
from relance.ledger.documents import stored_file
from relance.ledger.einvoices import invoice_document, with_documents

BASE = "/sales"
COOKIE = "relance_sales_token"
FORM_COOKIE = "relance_sales_form"  # the sign-in form's own value, sent back with it (no sign-in from elsewhere)
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Texts:
    lang: str
    title: str
    other_language: str
    sign_in: str
    sign_in_help: str
    sign_out: str
    token: str
    bad_token: str
    form_expired: str
    search: str
    search_placeholder: str
    no_match: str
    unknown_customer: str
    since: str
    overdue_amount: str
    open_amount: str
    oldest_late: str
    last_contact: str
    never: str
    nothing: str
    arrangements: str
    no_arrangement: str
    invoice: str
    kind: str
    agreed: str
    dues: str
    on: str
    open_invoices: str
    no_open_invoice: str
    due_date: str
    days_late: str
    balance: str
    stage: str
    as_of: str
    standing: dict[str, str]
    arrangement_kind: dict[str, str]
    stages: dict[str, str] = field(default_factory=dict)
    exchanges: str = ""
    no_exchange: str = ""
    exchange_kind: dict[str, str] = field(default_factory=dict)

    def days(self, n: int) -> str:
        if self.lang == "fr":
            return f"{n} jour" + ("s" if n > 1 else "")
        return f"{n} day" + ("" if n == 1 else "s")

    def open_cases(self, n: int) -> str:
        if self.lang == "fr":
            return f"{n} facture{'s' if n > 1 else ''} ouverte{'s' if n > 1 else ''}"
        return f"{n} open invoice{'' if n == 1 else 's'}"


TEXTS = {
    "fr": Texts(
        lang="fr",
        title="Relance · situation client",
        other_language="English",
        sign_in="Se connecter",
        sign_in_help="Collez le jeton d'accès (rôle sales ou plus) que l'équipe recouvrement vous a remis.",
        sign_out="Se déconnecter",
        token="Jeton",
        bad_token="Ce jeton est inconnu ou révoqué.",
        form_expired="Le formulaire a expiré : collez le jeton à nouveau.",
        search="Chercher",
        search_placeholder="Nom ou identifiant du client",
        no_match="Aucun client ne correspond.",
        unknown_customer="Aucune facture de ce client dans le grand livre.",
        since="depuis le",
        overdue_amount="Montant échu impayé",
        open_amount="Encours total",
        oldest_late="Retard le plus ancien",
        last_contact="Dernier contact",
        never="aucun",
        nothing="rien",
        arrangements="Promesses et échéanciers en cours",
        no_arrangement="Aucune promesse ni échéancier en cours.",
        invoice="Facture",
        kind="Type",
        agreed="Convenu le",
        dues="Paiements attendus",
        on="le",
        open_invoices="Factures ouvertes",
        no_open_invoice="Aucune facture ouverte.",
        due_date="Échéance",
        days_late="Jours de retard",
        balance="Reste dû",
        stage="Étape",
        as_of="Situation au",
        standing={
            "good": "À jour de ses paiements",
            "overdue": "En retard de paiement",
            "disputed": "Facture en litige",
            "on_hold": "Relances suspendues",
            "formal_notice": "Mis en demeure",
            "court": "Procédure judiciaire",
            "agency": "Confié à un cabinet de recouvrement",
        },
        arrangement_kind={"promise": "Promesse de paiement", "plan": "Échéancier"},
        exchanges="Échanges récents",
        no_exchange="Aucun échange sur les factures ouvertes.",
        exchange_kind={
            "sent": "envoyé",
            "delivered": "délivré",
            "opened": "ouvert",
            "clicked": "lien suivi",
            "replied": "réponse du client",
            "auto_reply": "réponse automatique",
            "bounced": "adresse en échec",
            "stopped": "STOP aux SMS",
        },
        stages={
            "not_due": "non échue",
            "pre_due": "avant échéance",
            "overdue": "échue",
            "reminder": "relance",
            "final_reminder": "dernière relance",
            "formal_notice": "mise en demeure",
            "court": "procédure judiciaire",
            "agency": "cabinet de recouvrement",
            "disputed": "litige",
            "paused": "suspendue",
            "customer_hold": "compte suspendu",
            "promise_to_pay": "promesse de paiement",
            "payment_plan": "échéancier",
            "settlement_offer": "proposition de règlement",
        },
    ),
    "en": Texts(
        lang="en",
        title="Relance · customer standing",
        other_language="Français",
        sign_in="Sign in",
        sign_in_help="Paste the access token (sales role or above) the collection team gave you.",
        sign_out="Sign out",
        token="Token",
        bad_token="This token is unknown or revoked.",
        form_expired="The form expired: paste the token again.",
        search="Search",
        search_placeholder="Customer name or id",
        no_match="No customer matches.",
        unknown_customer="No invoice of this customer in the ledger.",
        since="since",
        overdue_amount="Overdue amount",
        open_amount="Total open",
        oldest_late="Oldest days late",
        last_contact="Last contact",
        never="none",
        nothing="nothing",
        arrangements="Open promises and payment plans",
        no_arrangement="No open promise or payment plan.",
        invoice="Invoice",
        kind="Kind",
        agreed="Agreed on",
        dues="Payments expected",
        on="on",
        open_invoices="Open invoices",
        no_open_invoice="No open invoice.",
        due_date="Due date",
        days_late="Days late",
        balance="Balance",
        stage="Stage",
        as_of="Standing at",
        standing={
            "good": "Up to date with payments",
            "overdue": "Overdue",
            "disputed": "Invoice in dispute",
            "on_hold": "Chasing on hold",
            "formal_notice": "Formal notice sent",
            "court": "In court",
            "agency": "With a collection agency",
        },
        arrangement_kind={"promise": "Promise to pay", "plan": "Payment plan"},
        exchanges="Recent exchanges",
        no_exchange="No exchange on the open invoices.",
        exchange_kind={
            "sent": "sent",
            "delivered": "delivered",
            "opened": "opened",
            "clicked": "link followed",
            "replied": "customer replied",
            "auto_reply": "automatic reply",
            "bounced": "address failed",
            "stopped": "STOP to texts",
        },
        stages={
            "not_due": "not due",
            "pre_due": "before due date",
            "final_reminder": "final reminder",
            "formal_notice": "formal notice",
            "customer_hold": "account on hold",
            "promise_to_pay": "promise to pay",
            "payment_plan": "payment plan",
            "settlement_offer": "settlement offer",
        },
    ),
}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["j2", "html"])
)


def language(request: Request, asked: str | None) -> str:
    """?lang= first, else the browser's first supported language, else French."""
    if asked in LANGUAGES:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "fr"


def sales_router(context: ApiContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    gate = context.gate

    def page_caller(token: str | None) -> Caller | None:
        """Who presents this token on the page (sales or above), or None; over its rate is still a 429."""
        if not token:
            return None
        try:
            return gate.allowed(gate.known(token), Role.sales)
        except HTTPException as err:
            if err.status_code == 429:
                raise
            return None

    def signed_in(request: Request) -> Caller | None:
        return page_caller(request.cookies.get(COOKIE))

    def sign_in_page(lang: str, status: int = 200, error: str | None = None) -> HTMLResponse:
        """The sign-in form, with a fresh value in a cookie and in the form: a sign-in posted from another site
        cannot carry both (SameSite=Strict), so nobody can sign a browser in with their own token."""
        form_value = secrets.token_urlsafe(24)
        response = page(lang, status, error=error, form_value=form_value)
        response.set_cookie(FORM_COOKIE, form_value, httponly=True, samesite="strict", path=BASE, max_age=3600)
        return response

    def page(lang: str, status: int = 200, **values: Any) -> HTMLResponse:
        money, day = formatters(lang)

        values = {"signed_in": False, "matches": None, "card": None, "query": None, "error": None, "form_value": None,
                  **values}  # fmt: skip
        html = templates.get_template("sales.html.j2").render(
            t=TEXTS[lang], lang=lang, other_lang="en" if lang == "fr" else "fr", base=BASE, money=money, day=day,
            **values,
        )  # fmt: skip
        return private_page(html, status, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")

    @router.get(BASE)
    async def home(
        request: Request,
        q: Annotated[str | None, Query(max_length=100)] = None,
        lang: Annotated[str | None, Query(max_length=5)] = None,
    ) -> HTMLResponse:
        chosen = language(request, lang)
        if signed_in(request) is None:
            stale = bool(request.cookies.get(COOKIE))
            return sign_in_page(chosen, 401 if stale else 200, TEXTS[chosen].bad_token if stale else None)
        matches = search_customers(context.engine, q) if q and q.strip() else None
        return page(chosen, signed_in=True, query=q, matches=matches)

    @router.get(BASE + "/customers/{customer_id}")
    async def customer(
        request: Request,
        customer_id: str,
        q: Annotated[str | None, Query(max_length=100)] = None,
        lang: Annotated[str | None, Query(max_length=5)] = None,
    ) -> Response:
        chosen = language(request, lang)
        if signed_in(request) is None:
            return RedirectResponse(f"{BASE}?lang={chosen}", status_code=303)
        try:
            card = standing_card(context.engine, customer_id, date.today())
        except UnknownCustomer:
            return page(chosen, 404, signed_in=True, query=q, error=TEXTS[chosen].unknown_customer)
        pdfs = with_documents(context.engine, [c.invoice_id for c in card.open_cases])
        return page(chosen, signed_in=True, query=q, card=card, pdfs=pdfs)

    @router.get(BASE + "/customers/{customer_id}/invoices/{invoice_id}.pdf")
    async def invoice_pdf(request: Request, customer_id: str, invoice_id: str) -> Response:
        """An open invoice of the customer as it was imported (its Factur-X PDF)."""
        if signed_in(request) is None:
            return RedirectResponse(BASE, status_code=303)
        try:
            card = standing_card(context.engine, customer_id, date.today())
        except UnknownCustomer:
            return Response(status_code=404)
        kept = (
            invoice_document(context.engine, invoice_id)
            if invoice_id in {c.invoice_id for c in card.open_cases}
            else None
        )
        path = stored_file(context.settings.documents_dir, kept)
        if path is None:
            return Response(status_code=404)
        headers = {"Content-Disposition": f'inline; filename="{invoice_id}.pdf"', "Cache-Control": "no-store"}
        return Response(path.read_bytes(), media_type="application/pdf", headers=headers)

    @router.post(BASE + "/login")
    async def login(request: Request, lang: Annotated[str | None, Query(max_length=5)] = None) -> Response:
        chosen = language(request, lang)
        form = parse_qs((await request.body()).decode("utf-8", "replace")[:4000])
        token = (form.get("token") or [""])[0].strip()
        sent = (form.get("form") or [""])[0]
        kept = request.cookies.get(FORM_COOKIE, "")
        if not kept or not secrets.compare_digest(sent.encode(), kept.encode()):
            return sign_in_page(chosen, 403, TEXTS[chosen].form_expired)
        if page_caller(token) is None:
            return sign_in_page(chosen, 401, TEXTS[chosen].bad_token)
        response = RedirectResponse(f"{BASE}?lang={chosen}", status_code=303)
        secure = request.url.scheme == "https"
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, path=BASE, max_age=43200)
        response.delete_cookie(FORM_COOKIE, path=BASE)
        return response

    @router.post(BASE + "/logout")
    async def logout(request: Request) -> Response:
        response = RedirectResponse(f"{BASE}?lang={language(request, None)}", status_code=303)
        response.delete_cookie(COOKIE, path=BASE)
        return response

    return router
