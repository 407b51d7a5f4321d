"""The debtor's own page (`GET /portal/<link>`): what the customer owes, and how to pay it, in French or English.

No staff token: the link is the key (signed, expiring, revocable, one customer: relance/ledger/portal.py), so the
page shows that customer's open invoices and nothing else, and no one's contact details. An expired or withdrawn
link says so and offers a fresh one, e-mailed to the address on file (never to one typed on the page).

The debtor can say they paid, promise, propose a plan, dispute, correct their details, pay by card or sign a
direct debit mandate: each becomes the ops action a collector would have sent (`by`: "debtor (<address>)"),
through the same path (`starter.ops.act_or_keep_refusal`). What the page may not agree to alone (beyond the
policy's `portal` limits: relance/domain/debtor_requests.py) becomes a task holding the request, which a person
accepts or declines; the page lists the answer and an e-mail brings it. Forms carry a signed value bound to the
link; posts are limited per link and per address."""

import asyncio
import hashlib
import json
import time
from collections import defaultdict, deque
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import stripe
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from temporalio.service import RPCError

from relance.api.context import ApiContext
from relance.api.pages import formatters, private_page
from relance.api.sales_page import language
from relance.api.stripe_hooks import checkout_url
from relance.api.uploads import keep_uploads
from relance.domain.actions import (
    Action,
    ContactUpdated,
    DisputeOpened,
    Installment,
    Pause,
    PaymentPlanAgreed,
    PaymentReceived,
    PromiseToPay,
)
from relance.domain.case import CaseState
from relance.domain.debtor_requests import limits_of, paid_until, plan_decision, promise_decision
from relance.domain.errors import explain
from relance.domain.lateness import DISPUTE_REASONS, LatenessCause
from relance.domain.limits import bounded, printable
from relance.domain.notices import REQUEST_WORDS, DebtorNotice
from relance.domain.penalties import MissingRate
from relance.domain.policy import PlanRules, PolicyError, PortalRules, load_policies
from relance.domain.portal_links import (
    LinkExpired,
    LinkRefused,
    LinkRevoked,
    form_is_ours,
    form_token,
)
from relance.ledger.customer_view import OpenCase, open_cases_of
from relance.ledger.documents import stored_file
from relance.ledger.einvoices import invoice_document, with_documents
from relance.ledger.mandates import MandateRefused, add_mandate
from relance.ledger.portal import SHORT_CODE, link_owner, read_link
from relance.ledger.work_queue import create_review_task, debtor_requests
from relance.rendering.documents import Party, creditor_party, letter_date, statement_pdf
from starter.notices import send_notice
from starter.ops import ActionRejected, UnknownCase, act_or_keep_refusal
from starter.ops import status as case_status
from starter.statements import statement_at

PORTAL = "/portal"
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
SHORT = "/p"  # short links for SMS and letters: /p/<code>
POSTS_PER_HOUR = 20  # per link and per address: a debtor acts a few times; a script would not stop
# Where an invoice stands, in the debtor's words (a stage not listed: "relance" / "reminded").
DEBTOR_STAGES = {
    "fr": {
        "not_due": "à échoir", "overdue": "échue", "reminder": "relancée", "final_reminder": "dernier rappel",
        "formal_notice": "mise en demeure", "court": "procédure judiciaire", "agency": "confiée à un cabinet",
        "disputed": "contestée", "promise_to_pay": "promesse de paiement", "payment_plan": "échéancier",
        "paused": "en attente", "customer_hold": "en attente", "settlement_offer": "proposition de règlement",
    },
    "en": {
        "not_due": "not yet due", "overdue": "overdue", "reminder": "reminded", "final_reminder": "final reminder",
        "formal_notice": "formal notice", "court": "court proceedings", "agency": "with a collection agency",
        "disputed": "disputed", "promise_to_pay": "promise to pay", "payment_plan": "payment plan",
        "paused": "on hold", "customer_hold": "on hold", "settlement_offer": "settlement offer",
    },
}  # fmt: skip
PROOF_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})  # a proof of payment, dispute papers
MAX_FILES = 3
TEXTS = {
    "fr": {
        "title": "Vos factures", "other_language": "English", "hello": "Bonjour", "total": "Total à régler",
        "invoice": "Facture", "issued": "Émise le", "stage": "Où en est-on",
        "due_date": "Échéance", "amount": "Montant", "left": "Reste dû",
        "days_late": "Jours de retard", "penalties": "Pénalités et indemnité", "statement": "décompte (PDF)",
        "no_statement": "Le décompte n'est pas disponible aujourd'hui.", "invoice_pdf": "facture (PDF)",
        "card": "Payer par carte",
        "card_paid": "Merci : votre paiement par carte est en cours d'enregistrement.",
        "mandate": "Payer par prélèvement SEPA", "holder": "titulaire du compte", "iban": "IBAN",
        "mandate_text": (
            "En signant ce mandat, vous autorisez {creditor} (ICS {ics}) à envoyer des instructions à votre banque "
            "pour débiter votre compte, et votre banque à le débiter conformément à ses instructions. Vous "
            "bénéficiez du droit d'être remboursé par votre banque selon les conditions de la convention passée "
            "avec elle ; une demande de remboursement doit être présentée dans les 8 semaines suivant la date de "
            "débit de votre compte."
        ),
        "agree": "J'accepte ce mandat", "mandate_kept": "Merci : votre mandat de prélèvement est enregistré.",
        "bad_iban": "Cet IBAN n'est pas valide.",
        "nothing_due": "Aucune facture ouverte : merci.",
        "how_to_pay": "Comment régler", "transfer_to": "Par virement à l'ordre de",
        "quote_reference": "Indiquez le numéro de chaque facture réglée en référence du virement.",
        "as_of": "Situation au", "questions": "Une question ? Répondez simplement à notre dernier message.",
        "invalid": "Ce lien n'est pas valide.", "expired": "Ce lien a expiré.", "revoked": "Ce lien a été retiré.",
        "ask_again": "Un nouveau lien vous parviendra avec notre prochain message, à l'adresse que nous connaissons.",
        "fresh": "M'envoyer un nouveau lien", "fresh_sent": (
            "Si nous connaissons une adresse pour ce compte, un nouveau lien vient d'y être envoyé."
        ),
        "requests": "Vos demandes", "asked_on": "du", "waiting": "en attente d'une réponse",
        "accepted": "acceptée", "declined": "refusée", "schedule": "Échéancier convenu",
        "installment_paid": "payée", "installment_late": "en retard", "installment_due": "à venir",
        "act": "Vous pouvez aussi nous dire", "paid": "J'ai payé", "paid_on": "le", "reference": "référence",
        "promise": "Je paierai le", "dispute": "Je conteste cette facture", "why": "motif", "details": "précisions",
        "send": "Envoyer", "done": "Merci, c'est noté.", "to_person": "Merci : une personne vous répondra.",
        "refused": "Nous n'avons pas pu l'enregistrer", "too_many": "Trop de demandes : réessayez dans une heure.",
        "expired_form": "Le formulaire a expiré : rechargez la page.",
        "plan": "Je propose un échéancier", "months": "mensualités", "first": "première le",
        "my_details": "Mes coordonnées ont changé", "email": "e-mail", "phone": "téléphone", "address": "adresse",
        "postal_code": "code postal", "city": "ville", "amount_paid": "montant payé",
        "proof": "justificatif (PDF ou image, 10 Mo au plus)",
        "papers": "pièces (PDF ou images, 3 au plus, 10 Mo chacune)",
    },
    "en": {
        "title": "Your invoices", "other_language": "Français", "hello": "Hello", "total": "Total to pay",
        "invoice": "Invoice", "issued": "Issued", "stage": "Where it stands",
        "due_date": "Due", "amount": "Amount", "left": "Left to pay", "days_late": "Days late",
        "penalties": "Penalties and indemnity", "statement": "statement (PDF)",
        "no_statement": "The statement is not available today.", "invoice_pdf": "invoice (PDF)", "card": "Pay by card",
        "card_paid": "Thank you: your card payment is being recorded.",
        "mandate": "Pay by SEPA direct debit", "holder": "account holder", "iban": "IBAN",
        "mandate_text": (
            "By signing this mandate form, you authorise {creditor} (creditor id {ics}) to send instructions to "
            "your bank to debit your account and your bank to debit your account in accordance with those "
            "instructions. You are entitled to a refund from your bank under the terms and conditions of your "
            "agreement with it; a refund must be claimed within 8 weeks starting from the date on which your "
            "account was debited."
        ),
        "agree": "I agree to this mandate", "mandate_kept": "Thank you: your direct debit mandate is recorded.",
        "bad_iban": "This IBAN is not valid.",
        "nothing_due": "No open invoice: thank you.", "how_to_pay": "How to pay", "transfer_to": "By transfer to",
        "quote_reference": "Quote the number of each invoice you pay as the transfer's reference.",
        "as_of": "Standing at", "questions": "A question? Simply reply to our last message.",
        "invalid": "This link is not valid.", "expired": "This link has expired.",
        "revoked": "This link was withdrawn.",
        "ask_again": "A fresh link comes with our next message, to the address we have on file.",
        "fresh": "Send me a fresh link", "fresh_sent": (
            "If we have an address for this account, a fresh link has just been sent to it."
        ),
        "requests": "Your requests", "asked_on": "of", "waiting": "waiting for an answer",
        "accepted": "accepted", "declined": "declined", "schedule": "Agreed payment plan",
        "installment_paid": "paid", "installment_late": "late", "installment_due": "to come",
        "act": "You can also tell us", "paid": "I have paid", "paid_on": "on", "reference": "reference",
        "promise": "I will pay on", "dispute": "I dispute this invoice", "why": "reason", "details": "details",
        "send": "Send", "done": "Thank you, it is recorded.", "to_person": "Thank you: a person will answer you.",
        "refused": "We could not record it", "too_many": "Too many requests: try again in an hour.",
        "expired_form": "The form has expired: reload the page.",
        "plan": "I propose a payment plan", "months": "monthly installments", "first": "first on",
        "my_details": "My details have changed", "email": "e-mail", "phone": "phone", "address": "address",
        "postal_code": "postal code", "city": "city", "amount_paid": "amount paid",
        "proof": "proof (PDF or image, 10 MB at most)", "papers": "papers (PDF or images, 3 at most, 10 MB each)",
    },
}  # fmt: skip
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["j2", "html"])
)


def portal_router(context: ApiContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    settings = context.settings

    async def opened(link: str) -> tuple[str, str]:
        """The customer and language the link opens the page of; LinkRefused when it opens none."""
        secret = settings.portal_secret
        if secret is None:
            raise LinkRefused("the page is not set up")
        return await asyncio.to_thread(read_link, context.engine, secret.get_secret_value(), link, settings.portal_days)

    def page(lang: str, status: int, **values: object) -> HTMLResponse:
        money, day = formatters(lang)
        html = templates.get_template("portal.html.j2").render(
            t=TEXTS[lang], lang=lang, other_lang="en" if lang == "fr" else "fr", money=money, day=day,
            causes=list(DISPUTE_REASONS[lang].items()),
            stage_words=lambda stage: DEBTOR_STAGES[lang].get(stage, DEBTOR_STAGES[lang]["reminder"]), **values,
        )  # fmt: skip
        response = private_page(html, status, CSP)
        response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key: never passed on
        return response

    @router.get(SHORT + "/{code}")
    async def short(code: str) -> Response:
        """A short link (an SMS, a letter): on to the page it stands for, which checks it as any link."""
        if not SHORT_CODE.match(code.lower()):
            return HTMLResponse(TEXTS["fr"]["invalid"] + " / " + TEXTS["en"]["invalid"], status_code=404)
        return RedirectResponse(f"{PORTAL}/{code.lower()}", status_code=303)

    @router.get(PORTAL + "/{link}")
    async def debtor_page(
        request: Request,
        link: str,
        lang: Annotated[str | None, Query(max_length=5)] = None,
        said: Annotated[str | None, Query(max_length=20)] = None,
    ) -> HTMLResponse:
        chosen = language(request, lang)
        try:
            customer, spoken = await opened(link)
            chosen = lang if lang in TEXTS else spoken  # the customer's language, unless the reader asks
        except LinkRefused as err:
            kind = {LinkExpired: "expired", LinkRevoked: "revoked"}.get(type(err), "invalid")
            secret = settings.portal_secret
            fresh = form_token(secret.get_secret_value(), link) if kind != "invalid" and secret else None
            return page(
                chosen, 410 if kind != "invalid" else 404, refusal=TEXTS[chosen][kind], refusal_kind=kind,
                link=link, form=fresh, said=TEXTS[chosen].get(said or "", None),
            )  # fmt: skip
        today = date.today()
        name, invoices = await asyncio.to_thread(open_cases_of, context.engine, customer, today)
        penalties = await penalties_today([c.invoice_id for c in invoices], today)
        totals: dict[str, Decimal] = {}
        for invoice in invoices:
            owed = invoice.balance + penalties.get(invoice.invoice_id, Decimal("0"))
            totals[invoice.currency] = totals.get(invoice.currency, Decimal("0.00")) + owed
        return page(
            chosen, 200, refusal=None, customer_name=name or customer, invoices=invoices, totals=totals,
            iban=settings.creditor_iban, creditor=settings.creditor_name, as_of=today, link=link, penalties=penalties,
            form=form_token(settings.portal_secret.get_secret_value(), link) if settings.portal_secret else "",
            said=TEXTS[chosen].get(said or "", None),
            tomorrow=today + timedelta(days=1),
            requests=await asyncio.to_thread(debtor_requests, context.engine, customer),
            plans=await schedules([c.invoice_id for c in invoices if c.stage == "payment_plan"], today),
            currencies={c.invoice_id: c.currency for c in invoices},
            pdfs=await asyncio.to_thread(with_documents, context.engine, [c.invoice_id for c in invoices]),
            request_words=REQUEST_WORDS[chosen],
            cards=settings.stripe_secret_key is not None and bool(settings.public_url),
            ics=settings.sepa_creditor_id,
        )  # fmt: skip

    async def penalties_today(invoices: list[str], today: date) -> dict[str, Decimal]:
        """Late-payment interest and the recovery indemnity each invoice owes today, where its policy claims them
        (the case's statement of account); an invoice whose statement cannot be made today shows none."""
        client = await context.temporal()

        async def one(invoice: str) -> tuple[str, Decimal]:
            try:
                _, result = await statement_at(client, invoice, today, settings.rates_file)
            except (UnknownCase, MissingRate, ValueError):
                return invoice, Decimal("0")
            return invoice, result.interest_due + result.indemnity_due

        return dict(await asyncio.gather(*(one(invoice) for invoice in invoices)))

    async def schedules(invoices: list[str], today: date) -> dict[str, list[tuple[Installment, str]]]:
        """Each agreed plan's installments and their state (paid, late, due), asked of the case."""
        client = await context.temporal()

        async def one(invoice: str) -> tuple[str, list[tuple[Installment, str]]]:
            try:
                state = await client.get_workflow_handle(f"invoice-{invoice}").query(
                    "case_state", result_type=CaseState
                )
            except RPCError:
                return invoice, []
            return invoice, state.plan.schedule(state.total_paid, today) if state.plan else []

        return dict(await asyncio.gather(*(one(invoice) for invoice in invoices)))

    async def shown(link: str, invoice: str) -> tuple[str, str, str]:
        """The customer, language and customer's name of a link opening one of that customer's open invoices;
        NotShown (404, saying why) for any other link or invoice."""
        try:
            customer, lang = await opened(link)
        except LinkRefused:
            raise NotShown(TEXTS["fr"]["invalid"] + " / " + TEXTS["en"]["invalid"]) from None
        name, invoices = await asyncio.to_thread(open_cases_of, context.engine, customer, date.today())
        if invoice not in {c.invoice_id for c in invoices}:
            raise NotShown(TEXTS[lang]["invalid"])
        return customer, lang, name

    @router.get(PORTAL + "/{link}/statement/{invoice}.pdf")
    async def statement(request: Request, link: str, invoice: str) -> Response:
        """The invoice's statement of account today, as a PDF: only for one of the link's customer's open invoices."""
        try:
            customer, lang, name = await shown(link, invoice)
        except NotShown as refused:
            return refused.response
        today = date.today()
        try:
            _, result = await statement_at(await context.temporal(), invoice, today, settings.rates_file)
        except (UnknownCase, MissingRate, ValueError):
            return HTMLResponse(TEXTS[lang]["no_statement"], status_code=409)
        pdf = await asyncio.to_thread(
            statement_pdf, creditor=creditor_party(settings), debtor=Party(name, [], customer),
            dated=letter_date(today, lang), result=result, lang=lang,
        )  # fmt: skip
        headers = {"Content-Disposition": f'inline; filename="{invoice}-statement.pdf"', "Cache-Control": "no-store"}
        return Response(pdf, media_type="application/pdf", headers=headers)

    @router.get(PORTAL + "/{link}/invoice/{invoice}.pdf")
    async def invoice_pdf(link: str, invoice: str) -> Response:
        """The invoice itself, as it was imported (a Factur-X PDF): only for one of the link's customer's open
        invoices."""
        try:
            _, lang, _ = await shown(link, invoice)
        except NotShown as refused:
            return refused.response
        kept = await asyncio.to_thread(invoice_document, context.engine, invoice)
        path = stored_file(settings.documents_dir, kept)
        if path is None:
            return HTMLResponse(TEXTS[lang]["invalid"], status_code=404)
        headers = {"Content-Disposition": f'inline; filename="{invoice}.pdf"', "Cache-Control": "no-store"}
        return Response(path.read_bytes(), media_type="application/pdf", headers=headers)

    posts: dict[str, deque[float]] = defaultdict(deque)

    async def customer_of(link: str, form: str, address: str) -> str:
        """The customer a form acts for, once the link, the form and the rates (per link, per address) are
        checked."""
        try:
            customer, _ = await opened(link)
        except LinkRefused:
            raise HTTPRefusal("invalid") from None
        assert settings.portal_secret is not None  # opened() refused the link otherwise
        if not form_is_ours(settings.portal_secret.get_secret_value(), link, form):
            raise HTTPRefusal("expired_form")
        throttle(link, address)
        return customer

    def throttle(link: str, address: str) -> None:
        """HTTPRefusal("too_many") past POSTS_PER_HOUR from the link or from the address."""
        now = time.monotonic()
        keys = (f"link:{link}", f"address:{address}")  # a link passed around, or one address trying many links
        for key in keys:
            recent = posts[key]
            while recent and now - recent[0] > 3600:
                recent.popleft()
            if len(recent) >= POSTS_PER_HOUR:
                raise HTTPRefusal("too_many")
        for key in keys:
            posts[key].append(now)

    @router.post(PORTAL + "/{link}/fresh")
    async def fresh(request: Request, link: str, form: Annotated[str, Form()]) -> Response:
        """A fresh link for a link that expired or was withdrawn: e-mailed to the address the customer's case
        holds (never one typed here), at most once a day per customer; the page says the same whether one left."""
        secret = settings.portal_secret
        if secret is None or not form_is_ours(secret.get_secret_value(), link, form):
            return HTTPRefusal("expired_form").page(link)
        try:
            customer, lang = await asyncio.to_thread(link_owner, context.engine, secret.get_secret_value(), link)
            throttle(link, request.client.host if request.client else "unknown")
        except LinkRefused:
            return HTTPRefusal("invalid").page(link)
        except HTTPRefusal as refusal:
            return refusal.page(link)
        today = date.today()
        _, invoices = await asyncio.to_thread(open_cases_of, context.engine, customer, today)
        if invoices:
            notice = DebtorNotice(
                key=f"fresh-{customer}-{today.isoformat()}", kind="fresh_link", customer_id=customer,
                invoice_id=invoices[0].invoice_id,
            )  # fmt: skip
            await send_notice(await context.temporal(), notice, settings.task_queue)
        return RedirectResponse(f"{PORTAL}/{link}?said=fresh_sent&lang={lang}", status_code=303)

    async def acting(request: Request, link: str, form: str, invoice: str) -> tuple[str, OpenCase]:
        """The customer and the open invoice a form acts on: one of the customer's own, nobody else's."""
        customer = await customer_of(link, form, request.client.host if request.client else "unknown")
        _, invoices = await asyncio.to_thread(open_cases_of, context.engine, customer, date.today())
        case = next((c for c in invoices if c.invoice_id == invoice), None)
        if case is None:
            raise HTTPRefusal("invalid")
        return customer, case

    async def record(request: Request, link: str, customer: str, invoice: str, action: Action) -> RedirectResponse:
        """The action on the case, as a collector would have sent it; a refusal goes to a person."""
        try:
            await act_or_keep_refusal(await context.temporal(), context.engine, invoice, action)
            said = "done"
        except (ActionRejected, UnknownCase) as err:
            await to_person(customer, invoice, f"{action.name} from the page refused by the case: {err}", action)
            said = "to_person"
        return await back(request, link, said)

    async def back(request: Request, link: str, said: str) -> RedirectResponse:
        """Back to the page, saying `said`, in the language the reader chose (the form's `lang`)."""
        chosen = (await request.form()).get("lang")
        tail = f"&lang={chosen}" if isinstance(chosen, str) and chosen in TEXTS else ""
        return RedirectResponse(f"{PORTAL}/{link}?said={said}{tail}", status_code=303)

    async def to_person(
        customer: str, invoice: str, why: str, action: Action, *, ask: bool = True, assignee: str = "collections"
    ) -> None:
        """A task for a person. When `ask`, it holds the debtor's request, for the person to accept (fed to the
        case as asked) or decline; the debtor reads the answer on the page and by e-mail. The same request
        again the same day finds the task it made (a double click is one request)."""
        fields = action.model_dump(mode="json", exclude={"by"})
        said = json.dumps(fields, sort_keys=True)
        digest = hashlib.sha256(f"{action.name}|{said}|{why}".encode()).hexdigest()[:16]
        key = f"portal-{invoice}-{action.name}-{date.today().isoformat()}-{digest}"
        script = f"The debtor asked on their page ({action.by}): {why}\n\n{said}"
        if ask:
            script += "\n\nAnswer with `relance task done <id> --outcome accepted|declined --note <their answer>`."
        await asyncio.to_thread(
            create_review_task, context.engine, key, script, invoice_id=invoice, customer_id=customer,
            due_on=date.today(), kind="portal", step_id="portal",
            request={"action": action.name, "fields": fields} if ask else None, assignee=assignee,
        )  # fmt: skip

    async def limits(invoice: str) -> tuple[PortalRules, PlanRules, int]:
        """What the page may agree to alone on the invoice: its policy's `portal` and `payment_plan` rules, as the
        policy files say them today (the defaults when the case's policy is no longer among them), and how many
        promises the case has recorded (asked of the case: one made a second ago counts)."""
        try:
            case = await case_status(await context.temporal(), invoice)
        except UnknownCase:
            return *limits_of(None), 0
        try:
            policies = await asyncio.to_thread(load_policies, settings.policy_dir, settings.template_dir)
        except PolicyError:
            policies = {}
        promises = sum(1 for entry in case.history if entry.event == "promise_to_pay")
        return *limits_of(policies.get((case.policy or "").split("@")[0])), promises

    def debtor(request: Request) -> str:
        return bounded(f"debtor ({request.client.host if request.client else 'unknown address'})", 200)

    @router.post(PORTAL + "/{link}/promise")
    async def promise(
        request: Request, link: str, form: Annotated[str, Form()], invoice: Annotated[str, Form(max_length=100)],
        on: Annotated[date, Form()],
    ) -> Response:  # fmt: skip
        try:
            customer, _ = await acting(request, link, form, invoice)
        except HTTPRefusal as refusal:
            return refusal.page(link)
        action = PromiseToPay(promised_on=on, by=debtor(request))
        rules, _, before = await limits(invoice)
        beyond = promise_decision(rules, date.today(), on, before)
        if beyond is not None:  # beyond what the page may agree to alone
            await to_person(customer, invoice, beyond.why, action)
            return await back(request, link, "to_person")
        return await record(request, link, customer, invoice, action)

    @router.post(PORTAL + "/{link}/dispute")
    async def dispute(
        request: Request, link: str, form: Annotated[str, Form()], invoice: Annotated[str, Form(max_length=100)],
        cause: Annotated[str, Form(max_length=30)], details: Annotated[str, Form(max_length=900)] = "",
        papers: Annotated[list[UploadFile] | None, File(description="up to 3 PDF or images")] = None,
    ) -> Response:  # fmt: skip
        """A dispute, its reason from the list, their words and papers: the case pauses as a dispute, and sales
        has a task to look at it (the papers named)."""
        try:
            customer, _ = await acting(request, link, form, invoice)
            if cause not in DISPUTE_REASONS["fr"]:
                raise HTTPRefusal("invalid")
            kept, refused = await keep(invoice, "dispute", papers)
            words = printable(f"{DISPUTE_REASONS['fr'][cause]}: {details}".strip(": "), 700)
            reason = bounded(words + (f" (papers: {', '.join(kept)})" if kept else ""), 1000)
            action = DisputeOpened(reason=reason, cause=LatenessCause.dispute, by=debtor(request))
        except HTTPRefusal as refusal:
            return refusal.page(link)
        except ValidationError as err:
            return HTTPRefusal("refused", explain(err)).page(link)
        response = await record(request, link, customer, invoice, action)
        papers_said = "".join(f"\n- kept: {path}" for path in kept) + "".join(f"\n- refused: {r}" for r in refused)
        await to_person(customer, invoice, f"a dispute: {words}{papers_said}", action, ask=False, assignee="sales")
        return response

    @router.post(PORTAL + "/{link}/paid")
    async def paid(
        request: Request, link: str, form: Annotated[str, Form()], invoice: Annotated[str, Form(max_length=100)],
        paid_on: Annotated[date, Form()], reference: Annotated[str, Form(max_length=100)] = "",
        amount: Annotated[str, Form(max_length=20)] = "",
        proof: Annotated[list[UploadFile] | None, File(description="a PDF or an image of the transfer")] = None,
    ) -> Response:  # fmt: skip
        """ "I have paid": the chase stops for the days the policy gives the bank to confirm; a person has a task
        to check the bank (with the proof, when one came), and the chase resumes unless the payment arrived."""
        try:
            customer, _ = await acting(request, link, form, invoice)
            try:
                sum_said = Decimal(amount.replace(",", ".").replace(" ", "")) if amount.strip() else None
            except ArithmeticError:
                raise HTTPRefusal("refused") from None
            if sum_said is not None and (not sum_said.is_finite() or sum_said <= 0):
                raise HTTPRefusal("refused")
            until = paid_until((await limits(invoice))[0], date.today())
            kept, refused = await keep(invoice, "paid", proof)
            said = printable(
                f"the debtor says it was paid on {paid_on}"
                + (f", {sum_said}" if sum_said is not None else "")
                + (f", ref. {reference}" if reference else "")
                + (f", proof {', '.join(kept)}" if kept else ""),
                900,
            )
            action = Pause(reason=said, until=until, by=debtor(request))
        except HTTPRefusal as refusal:
            return refusal.page(link)
        response = await record(request, link, customer, invoice, action)
        refusals = "".join(f"\n- refused: {r}" for r in refused)
        why = f"{said}: check the bank by {until} (the chase resumes then){refusals}"
        await to_person(customer, invoice, why, action, ask=False)
        return response

    async def keep(invoice: str, what: str, files: list[UploadFile] | None) -> tuple[list[str], list[str]]:
        """The debtor's files kept in the documents store (PDF, PNG, JPEG, checked by their bytes), the rest
        named with why."""
        uploads = [f for f in files or [] if f.filename][:MAX_FILES]
        if not uploads:
            return [], []
        key = f"{invoice}-{what}-{time.time_ns()}"
        return await asyncio.to_thread(keep_uploads, settings.documents_dir, "portal", key, uploads, PROOF_TYPES)

    @router.post(PORTAL + "/{link}/pay")
    async def pay(
        request: Request, link: str, form: Annotated[str, Form()], invoice: Annotated[str, Form(max_length=100)],
        lang: Annotated[str, Form(max_length=5)] = "fr",
    ) -> Response:  # fmt: skip
        """Pay what is left on an invoice by card: off to a Stripe Checkout page, back here when done."""
        if settings.stripe_secret_key is None or not settings.public_url:
            return HTTPRefusal("invalid").page(link)
        try:
            customer, case = await acting(request, link, form, invoice)
        except HTTPRefusal as refusal:
            return refusal.page(link)
        returning = f"{settings.public_url.rstrip('/')}{PORTAL}/{link}"
        try:
            url = await asyncio.to_thread(
                checkout_url, settings, invoice, customer, case.balance, case.currency, returning,
                lang if lang in TEXTS else "fr",
            )  # fmt: skip
        except (stripe.StripeError, ValueError) as err:
            action = PaymentReceived(amount=case.balance, paid_on=date.today(), reference="card", by=debtor(request))
            why = f"a card payment could not start: {bounded(str(err), 300)}"
            await to_person(customer, invoice, why, action, ask=False)
            return await back(request, link, "to_person")
        return RedirectResponse(url, status_code=303)

    @router.post(PORTAL + "/{link}/mandate")
    async def mandate(
        request: Request, link: str, form: Annotated[str, Form()], iban: Annotated[str, Form(max_length=50)],
        holder: Annotated[str, Form(max_length=140)], agree: Annotated[str, Form(max_length=5)] = "",
    ) -> Response:  # fmt: skip
        """A SEPA e-mandate: the debtor agrees to the mandate's text for their account; the mandate is kept for
        the customer (IBAN checked, a UMR of its own) and a returned direct debit can be presented on it."""
        try:
            customer = await customer_of(link, form, request.client.host if request.client else "unknown")
        except HTTPRefusal as refusal:
            return refusal.page(link)
        if agree != "yes" or not settings.sepa_creditor_id:
            return await back(request, link, "refused")
        umr = f"RUM-{customer[:20]}-{int(time.time())}"
        try:
            await asyncio.to_thread(
                add_mandate, context.engine, customer_id=customer, umr=umr, signed_on=date.today(),
                iban="".join(iban.split()).upper(), debtor_name=printable(holder, 140), today=date.today(),
                by=debtor(request),
            )  # fmt: skip
        except MandateRefused:
            return await back(request, link, "bad_iban")
        return await back(request, link, "mandate_kept")

    @router.post(PORTAL + "/{link}/plan")
    async def plan(
        request: Request, link: str, form: Annotated[str, Form()], invoice: Annotated[str, Form(max_length=100)],
        months: Annotated[int, Form(ge=2, le=36)], first: Annotated[date, Form()],
    ) -> Response:  # fmt: skip
        """Equal monthly installments of what is left (the last takes the cents): the case takes them when its
        policy allows as many, else a person decides."""
        try:
            customer, case = await acting(request, link, form, invoice)
        except HTTPRefusal as refusal:
            return refusal.page(link)
        balance = case.balance
        share = (balance / months).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        amounts = [share] * (months - 1) + [balance - share * (months - 1)]
        try:
            installments = [
                Installment(due_on=_months_after(first, n), amount=amount) for n, amount in enumerate(amounts)
            ]
            action: Action = PaymentPlanAgreed(installments=installments, by=debtor(request))
        except ValidationError as err:
            return HTTPRefusal("refused", explain(err)).page(link)
        rules, plan_rules, _ = await limits(invoice)
        beyond = plan_decision(rules, plan_rules, date.today(), installments)
        if beyond is not None:
            await to_person(customer, invoice, beyond.why, action)
            return await back(request, link, "to_person")
        return await record(request, link, customer, invoice, action)

    @router.post(PORTAL + "/{link}/details")
    async def details(
        request: Request, link: str, form: Annotated[str, Form()],
        email: Annotated[str, Form(max_length=200)] = "", phone: Annotated[str, Form(max_length=30)] = "",
        line1: Annotated[str, Form(max_length=200)] = "", postal_code: Annotated[str, Form(max_length=20)] = "",
        city: Annotated[str, Form(max_length=100)] = "", country: Annotated[str, Form(max_length=2)] = "FR",
    ) -> Response:  # fmt: skip
        """New contact details for the customer: on every open invoice of theirs (the fix after a bounce or a
        returned letter)."""
        changes: dict[str, object] = {"email": email or None, "phone": phone or None}
        if line1 or postal_code or city:
            changes["address"] = {"line1": line1, "postal_code": postal_code, "city": city, "country": country}
        try:
            customer = await customer_of(link, form, request.client.host if request.client else "unknown")
        except HTTPRefusal as refusal:
            return refusal.page(link)
        try:
            action = ContactUpdated.model_validate({k: v for k, v in changes.items() if v} | {"by": debtor(request)})
        except ValidationError as err:
            return HTTPRefusal("refused", explain(err)).page(link)
        _, invoices = await asyncio.to_thread(open_cases_of, context.engine, customer, date.today())
        said = "done"
        for case in invoices:
            answer = await record(request, link, customer, case.invoice_id, action)
            said = "to_person" if "to_person" in answer.headers["location"] else said
        return await back(request, link, said)

    return router


def _months_after(first: date, n: int) -> date:
    """The same day `n` months after `first` (the month's last day when it has fewer)."""
    month = first.month - 1 + n
    year, month = first.year + month // 12, month % 12 + 1
    for day in (first.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


class NotShown(Exception):
    """A document the link may not show: the 404 page that says so."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.response = HTMLResponse(words, status_code=404)


class HTTPRefusal(Exception):
    """A form the page does not take; `kind` names the words it shows."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind, self.detail = kind, detail

    def page(self, link: str) -> Response:
        status = {"too_many": 429, "invalid": 404, "expired_form": 403}.get(self.kind)
        if status is None:  # the case refused what the form said: the page says so
            return RedirectResponse(f"{PORTAL}/{link}?said={self.kind}", status_code=303)
        words = " / ".join(TEXTS[lang].get(self.kind, TEXTS[lang]["invalid"]) for lang in ("fr", "en"))
        return HTMLResponse(f"<!doctype html><p>{words}</p>", status_code=status)
