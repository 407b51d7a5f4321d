"""Legal documents as PDF: the formal notice letter and the injonction de payer dossier's summary.

Built with fpdf2 in the DejaVu font that matplotlib ships (Unicode: €, « », the narrow spaces Babel
puts in French amounts). The statement of account is laid out once, for the letter, the dossier and the
terminal (`relance statement`).
"""

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_date
from babel.numbers import format_decimal

from relance.domain.deliveries import ReminderSent
from relance.domain.money import format_money
from relance.domain.penalties import Statement
from relance.rendering.messages import LOCALES
from relance.settings import Settings

if TYPE_CHECKING:  # fpdf2 costs a process about 60 MB: loaded when a document is made, not by every importer
    from fpdf import FPDF


@dataclass(frozen=True)
class Party:
    name: str
    address: list[str]
    identifier: str | None = None  # SIREN, customer number


@dataclass(frozen=True)
class StatementLine:
    label: str
    amount: Decimal  # negative for payments


def reminder_line(sent: ReminderSent, zone: str, lang: str = "fr") -> str:
    """A reminder as a statement or a dossier cites it: the step, what the debtor received, and when the e-mail
    provider saw it delivered and opened ("délivrée le 12/11/2026 à 09:02", the policy's local time)."""
    fr = lang == "fr"
    if sent.channel == "letter":
        return (
            f"étape {sent.step_id} — mise en demeure ({sent.what})"
            if fr
            else f"step {sent.step_id} — formal notice ({sent.what})"
        )
    words = ("délivrée", "ouverte", "le", "à") if fr else ("delivered", "opened", "on", "at")
    local = [
        (when.astimezone(ZoneInfo(zone)), word)
        for when, word in ((sent.delivered, words[0]), (sent.opened, words[1]))
        if when
    ]
    seen = [f"{word} {words[2]} {at:%d/%m/%Y} {words[3]} {at:%H:%M}" for at, word in local]
    step = "étape" if fr else "step"
    return f"{step} {sent.step_id} — {sent.what}" + (f" ({', '.join(seen)})" if seen else "")


def statement_lines(result: Statement, lang: str) -> list[StatementLine]:
    """Principal, each interest period, the indemnity, each payment: they add up to the total due."""
    locale = LOCALES[lang]

    def day(value: date) -> str:
        return format_date(value, format="short" if lang == "en" else "dd/MM/yyyy", locale=locale)

    def pct(value: Decimal) -> str:
        return format_decimal(value, format="#,##0.00", locale=locale) + " %"

    fr = lang == "fr"
    lines = [StatementLine("Principal (facture TTC)" if fr else "Principal (invoice incl. VAT)", result.principal)]
    for i in result.interest:
        base = fmt(i.base, result, lang)
        label = (
            f"Intérêts du {day(i.start)} au {day(i.end)} : {i.days} j à {pct(i.rate)} sur {base}"
            if fr
            else f"Interest {day(i.start)} to {day(i.end)}: {i.days} days at {pct(i.rate)} on {base}"
        )
        lines.append(StatementLine(label, i.amount))
    if result.indemnity:
        lines.append(
            StatementLine(
                "Indemnité forfaitaire pour frais de recouvrement (art. D441-5 C. com.)"
                if fr
                else "Fixed recovery indemnity (art. D441-5 French Commercial Code)",
                result.indemnity,
            )
        )
    for p in result.payments:
        label = (
            f"Paiement du {day(p.paid_on)} (réf. {p.reference})"
            if fr
            else f"Payment of {day(p.paid_on)} ({p.reference})"
        )
        lines.append(StatementLine(label, -p.amount))
    return lines


def fmt(amount: Decimal, result: Statement, lang: str) -> str:
    return format_money(amount, result.currency, lang)


def total_label(result: Statement, lang: str) -> str:
    day = format_date(result.at, format="dd/MM/yyyy" if lang == "fr" else "short", locale=LOCALES[lang])
    return f"Total dû au {day}" if lang == "fr" else f"Total due on {day}"


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _document() -> "FPDF":
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    fonts = _font_dir()
    pdf.add_font("dejavu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    pdf.set_font("dejavu", size=10)
    return pdf


def _statement_table(pdf: "FPDF", result: Statement, lang: str) -> None:
    width = pdf.epw
    pdf.set_font("dejavu", "B", 10)
    pdf.cell(
        width, 7, "Décompte de la créance" if lang == "fr" else "Statement of account", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("dejavu", size=9)
    for line in statement_lines(result, lang):
        pdf.cell(width - 40, 6, line.label, border="B")
        pdf.cell(40, 6, fmt(line.amount, result, lang), border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dejavu", "B", 10)
    pdf.cell(width - 40, 7, total_label(result, lang))
    pdf.cell(40, 7, fmt(result.total_due, result, lang), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dejavu", size=10)
    pdf.ln(2)
    note = result.interest_note[:1].upper() + result.interest_note[1:] + "." if lang == "en" else _note_fr(result)
    pdf.multi_cell(width, 5, note, new_x="LMARGIN", new_y="NEXT")


def _note_fr(result: Statement) -> str:
    if result.interest_from is None:
        return "Aucun intérêt n'est compté avant la mise en demeure (art. 1344-1 C. civ.)."
    if result.debtor.value == "business":
        return "Pénalités de retard dues dès le lendemain de l'échéance, sans rappel nécessaire (art. L441-10 C. com.)."
    return "Intérêts au taux légal à compter de la mise en demeure (art. 1344-1 C. civ.)."


def _parties(pdf: "FPDF", creditor: Party, debtor: Party) -> None:
    top = pdf.get_y()
    pdf.set_font("dejavu", "B", 10)
    pdf.cell(80, 5, creditor.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dejavu", size=9)
    for line in [*creditor.address, *([f"SIREN {creditor.identifier}"] if creditor.identifier else [])]:
        pdf.cell(80, 5, line, new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()
    pdf.set_xy(115, top + 18)
    pdf.set_font("dejavu", "B", 10)
    pdf.cell(75, 5, debtor.name, new_x="LEFT", new_y="NEXT")
    pdf.set_font("dejavu", size=10)
    for line in debtor.address:
        pdf.cell(75, 5, line, new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, max(bottom, pdf.get_y()) + 8)


def _reflow(text: str) -> str:
    """Template lines are wrapped for the source; paragraphs (blank-line separated) flow in the PDF."""
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip())


def _letter(creditor: Party, debtor: Party, dated: str, subject: str) -> tuple["FPDF", float]:
    """A letter's head: both parties, the place and date, the heading's font; and the page's usable width."""
    pdf = _document()
    pdf.set_title(subject)
    _parties(pdf, creditor, debtor)
    width = pdf.epw
    pdf.cell(width, 5, dated, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("dejavu", "B", 10)
    return pdf, width


def letter_date(day: date, lang: str) -> str:
    """The place and date a letter opens with ("Paris, le 7 décembre 2026")."""
    dated = format_date(day, format="long", locale=LOCALES[lang])
    return f"Paris, le {dated}" if lang == "fr" else dated


def creditor_party(settings: Settings) -> Party:
    """Who writes: the creditor's name, address lines and SIREN, from the settings."""
    return Party(
        settings.creditor_name, [part.strip() for part in settings.creditor_address.split(",")], settings.creditor_siren
    )


def formal_notice_pdf(
    *,
    creditor: Party,
    debtor: Party,
    dated: str,
    subject: str,
    body: str,
    result: Statement,
    lang: str,
) -> bytes:
    pdf, width = _letter(creditor, debtor, dated, subject)
    registered = (
        "Lettre recommandée avec demande d'avis de réception"
        if lang == "fr"
        else "Registered letter with acknowledgement of receipt"
    )
    pdf.cell(width, 5, registered, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 6, subject, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("dejavu", size=10)
    marker = "[[statement]]"
    before, _, after = body.partition(marker)
    pdf.multi_cell(width, 5, _reflow(before), new_x="LMARGIN", new_y="NEXT")
    if marker in body:
        pdf.ln(2)
        _statement_table(pdf, result, lang)
        pdf.ln(2)
        pdf.multi_cell(width, 5, _reflow(after), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def statement_pdf(*, creditor: Party, debtor: Party, dated: str, result: Statement, lang: str) -> bytes:
    """The statement of account (décompte) of one invoice at a date, as the debtor downloads it from their page."""
    title = (
        f"Décompte de la facture {result.invoice_id}" if lang == "fr" else f"Statement of invoice {result.invoice_id}"
    )
    pdf, _width = _letter(creditor, debtor, dated, title)
    pdf.cell(pdf.epw, 6, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _statement_table(pdf, result, lang)
    return bytes(pdf.output())


def reminder_letter_pdf(
    *, creditor: Party, debtor: Party, dated: str, subject: str, body: str, page_url: str | None = None
) -> bytes:
    """An ordinary reminder letter (lettre simple): the e-mail's words, laid out for the post, and a QR code of
    the link to the debtor's own page when there is one (a phone reads it; nobody types a signed link)."""
    pdf, width = _letter(creditor, debtor, dated, subject)
    pdf.cell(width, 6, subject, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("dejavu", size=10)
    pdf.multi_cell(width, 5, _reflow(body), new_x="LMARGIN", new_y="NEXT")
    if page_url:
        image = io.BytesIO()
        segno.make(page_url, error="m").save(image, kind="png", scale=6, border=2)
        image.seek(0)
        pdf.ln(4)
        pdf.image(image, w=32, h=32)
    return bytes(pdf.output())


@dataclass(frozen=True)
class DossierSummary:
    creditor: Party
    debtor: Party
    court: str
    route: str
    invoice_id: str
    issue_date: date
    due_date: date
    result: Statement
    contacts: list[tuple[str, str, str]]  # date, channel, what
    formal_notice: list[str]
    documents: list[str]
    limitation_date: date | None
    debtor_city: str


def dossier_summary_pdf(summary: DossierSummary) -> bytes:
    """A summary in French a lawyer or the creditor can file with the request (Cerfa 12946 / 12948)."""
    pdf = _document()
    width = pdf.epw
    title = (
        "Requête en injonction de payer — dossier"
        if summary.route == "injonction_de_payer"
        else "Procédure simplifiée de recouvrement des petites créances — dossier"
    )
    pdf.set_title(title)
    pdf.set_font("dejavu", "B", 13)
    pdf.multi_cell(width, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dejavu", size=10)
    r = summary.result

    def section(name: str, lines: list[str]) -> None:
        pdf.ln(2)
        pdf.set_font("dejavu", "B", 10)
        pdf.cell(width, 6, name, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dejavu", size=9)
        for line in lines:
            pdf.multi_cell(width, 5, line, new_x="LMARGIN", new_y="NEXT")

    def party(p: Party) -> list[str]:
        return [p.name, *p.address, *([f"Identifiant : {p.identifier}"] if p.identifier else [])]

    section("Créancier", party(summary.creditor))
    section("Débiteur", party(summary.debtor))
    section("Juridiction", [f"{summary.court} du lieu du domicile du débiteur ({summary.debtor_city})"])

    def money(amount: Decimal) -> str:
        return fmt(amount, r, "fr")

    section(
        "Montant réclamé",
        [
            f"Principal : {money(r.principal_due)}",
            f"Intérêts de retard échus : {money(r.interest_due)}",
            f"Indemnité forfaitaire : {money(r.indemnity_due)}",
            "Frais : à compléter (droits de greffe, signification)",
            f"Total : {money(r.total_due)}",
        ],
    )
    section(
        "Fondement de la créance",
        [
            f"Facture {summary.invoice_id} du {summary.issue_date:%d/%m/%Y}, échue le {summary.due_date:%d/%m/%Y}, "
            "restée impayée malgré les relances ci-dessous.",
            *([f"Prescription acquise le {summary.limitation_date:%d/%m/%Y}."] if summary.limitation_date else []),
        ],
    )
    channels = {"email": "courriel", "phone": "appel", "letter": "lettre recommandée", "court": "tribunal"}
    contacts = [f"{d} — {channels.get(channel, channel)} — {what}" for d, channel, what in summary.contacts]
    section("Relances", contacts or ["aucune"])
    section("Mise en demeure", summary.formal_notice)
    pdf.ln(2)
    _statement_table(pdf, r, "fr")
    section("Pièces jointes", summary.documents)
    return bytes(pdf.output())
