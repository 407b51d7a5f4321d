"""An e-invoice as the French platforms carry it, read into what a case needs: a Factur-X PDF (the CII XML it
embeds, taken out by the `factur-x` package), a CII XML or a UBL 2.1 invoice or credit note. The package reads
each into EN 16931's business terms (BT-1 the number, BT-112 the total...), checked against its schema; this
module keeps what collection needs and refuses, whole, a file it cannot use, naming the business term.

Credit notes (type 381 and the other credit-note codes, or a 380 with a negative total as some issue them) are
told apart: they reduce the invoice they name (BG-3) instead of opening a case."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from stdnum.fr import siren as siren_number
from stdnum.fr import siret as siret_number

MAX_EINVOICE_BYTES = 20 * 1024 * 1024
FORMATS = ("facturx", "cii", "ubl")


class EInvoiceRefused(ValueError):
    """The file cannot become a case (or a credit note); the message names the element."""


@dataclass(frozen=True)
class VatLine:
    """One line of the VAT breakdown (BG-23): the rate, the taxable base and the tax."""

    rate: Decimal
    base: Decimal
    tax: Decimal
    category: str


@dataclass(frozen=True)
class Buyer:
    name: str
    siren: str | None  # 9 digits, checked
    siret: str | None  # 14 digits, checked, when the invoice gives one
    electronic_address: str | None  # its id in the French platforms directory (scheme 0225)
    vat_id: str | None
    email: str | None  # a contact's (BT-58), else an electronic address of scheme EM
    phone: str | None
    line1: str | None
    line2: str | None
    postal_code: str | None
    city: str | None
    country: str | None

    @property
    def checks(self) -> list[str]:
        """What looks wrong without stopping the import (the platform checked the invoice; a person may look)."""
        found = []
        if self.siret and not siret_number.is_valid(self.siret):
            found.append(f"the buyer's SIRET {self.siret} fails its check digit")
        elif self.siren and not siren_number.is_valid(self.siren):
            found.append(f"the buyer's SIREN {self.siren} fails its check digit")
        return found

    @property
    def customer_id(self) -> str:
        """Who the buyer is for us, stable across invoices: its SIREN, else its VAT number, else its address."""
        if self.siren:
            return f"SIREN-{self.siren}"
        if self.vat_id:
            return "VAT-" + re.sub(r"[^A-Z0-9]", "", self.vat_id.upper())
        if self.electronic_address:
            return "EADDR-" + re.sub(r"[^A-Za-z0-9._-]", "_", self.electronic_address)
        raise EInvoiceRefused("BG-7 (buyer): no SIREN, VAT number or electronic address to know the buyer by")


@dataclass(frozen=True)
class EInvoice:
    format: str  # facturx, cii or ubl
    number: str  # BT-1
    type_code: str  # BT-3
    credit_note: bool
    issue_date: date  # BT-2
    due_date: date  # BT-9, or from the payment terms (BT-20)
    currency: str  # BT-5
    total: Decimal  # BT-112, tax included (negative on a credit note issued as a 380)
    amount_due: Decimal  # BT-115: what is left to pay (the total less what was paid in advance)
    vat: tuple[VatLine, ...]
    buyer: Buyer
    seller_iban: str | None  # BT-84
    preceding: tuple[str, ...] = field(default=())  # BG-3: the invoices a credit note corrects

    def case_fields(self) -> dict[str, Any]:
        """The start contract's fields (relance/domain/invoice.py), for an invoice that opens a case."""
        b = self.buyer
        missing = [
            name
            for name, value in (
                ("BT-58 (buyer contact e-mail, or an electronic address of scheme EM)", b.email),
                ("BT-50 (buyer address line)", b.line1),
                ("BT-53 (buyer post code)", b.postal_code),
                ("BT-52 (buyer city)", b.city),
                ("BT-55 (buyer country)", b.country),
            )
            if not value
        ]
        if missing:
            raise EInvoiceRefused(f"invoice {self.number}: missing {', '.join(missing)}")
        address = {"line1": b.line1, "postal_code": b.postal_code, "city": b.city, "country": b.country}
        if b.line2:
            address["line2"] = b.line2
        customer: dict[str, Any] = {
            "id": b.customer_id, "name": b.name, "kind": "business", "email": b.email,
            "language": "fr" if b.country == "FR" else "en", "address": address,
        }  # fmt: skip
        if b.phone and re.fullmatch(r"\+?[0-9 ().-]{3,30}", b.phone):
            customer["phone"] = b.phone
        metadata = {"einvoice_format": self.format}
        for key, value in (("siren", b.siren), ("siret", b.siret), ("electronic_address", b.electronic_address)):
            if value:
                metadata[key] = value
        return {
            "invoice_id": self.number, "customer": customer, "amount": str(self.amount_due),
            "currency": self.currency, "issue_date": self.issue_date.isoformat(),
            "due_date": self.due_date.isoformat(), "metadata": metadata,
        }  # fmt: skip


def read_einvoice(data: bytes) -> tuple[EInvoice, bytes | None]:
    """The invoice, and the PDF to keep as its document (None for a bare XML); EInvoiceRefused otherwise."""
    from facturx import get_facturx_xml_from_pdf, parse_ubl_cii_xml  # heavy (lxml, pypdf): loaded when used

    if len(data) > MAX_EINVOICE_BYTES:
        raise EInvoiceRefused(f"the file is {len(data):,} bytes, more than {MAX_EINVOICE_BYTES:,}")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    pdf: bytes | None = None
    if head.startswith(b"%PDF"):
        pdf = data
        try:
            _, xml = get_facturx_xml_from_pdf(data, check_xsd=False)
        except Exception as err:  # the package raises bare exceptions for a broken PDF
            raise EInvoiceRefused(f"not a readable PDF: {_said(err)}") from None
        if not xml:
            raise EInvoiceRefused("a PDF without an embedded Factur-X or ZUGFeRD XML (factur-x.xml)")
        kind = "facturx"
    elif head.startswith(b"<"):
        xml = data
        kind = "ubl" if b"urn:oasis:names:specification:ubl:schema:xsd" in head[:3000] else "cii"
    else:
        raise EInvoiceRefused("neither a PDF nor an XML document")
    try:
        terms = parse_ubl_cii_xml(xml, check_xsd=True)
    except Exception as err:  # schema errors and unknown documents alike come as bare exceptions
        raise EInvoiceRefused(f"the {kind if kind != 'facturx' else 'embedded CII'} XML: {_said(err)}") from None
    return _invoice(kind, terms), pdf


def _said(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:300] or type(err).__name__


def _invoice(kind: str, terms: dict[str, Any]) -> EInvoice:
    from facturx import is_credit_note

    number = _text(terms, "BT-1", "invoice number")
    type_code = _text(terms, "BT-3", "invoice type code")
    issue = terms.get("BT-2")
    if not isinstance(issue, date):
        raise EInvoiceRefused(f"invoice {number}: BT-2 (issue date) missing")
    currency = _text(terms, "BT-5", "invoice currency code")
    total = _amount(terms, "BT-112", "invoice total with VAT", number)
    due_amount = _amount(terms, "BT-115", "amount due for payment", number) if terms.get("BT-115") else total
    credit = is_credit_note(terms) or total < 0
    due = terms.get("BT-9")
    if not isinstance(due, date):
        due = _due_from_terms(str(terms.get("BT-20") or ""), issue)
        if due is None and not credit:
            raise EInvoiceRefused(
                f"invoice {number}: BT-9 (payment due date) missing, and the payment terms (BT-20) "
                f"{terms.get('BT-20')!r} name no number of days"
            )
    vat = tuple(
        VatLine(
            rate=_decimal(line.get("BT-119", "0"), f"BG-23 BT-119 (VAT rate) of invoice {number}"),
            base=_decimal(line.get("BT-116", "0"), f"BG-23 BT-116 (taxable amount) of invoice {number}"),
            tax=_decimal(line.get("BT-117", "0"), f"BG-23 BT-117 (VAT amount) of invoice {number}"),
            category=str(line.get("BT-118") or ""),
        )
        for line in terms.get("BG-23") or []
    )
    return EInvoice(
        format=kind, number=number, type_code=type_code, credit_note=credit, issue_date=issue,
        due_date=due or issue, currency=currency, total=total, amount_due=due_amount, vat=vat,
        buyer=_buyer(terms.get("BG-7") or {}, number), seller_iban=_iban(terms.get("BT-84")),
        preceding=tuple(str(r["BT-25"]) for r in terms.get("BG-3") or [] if r.get("BT-25")),
    )  # fmt: skip


def _text(terms: dict[str, Any], key: str, what: str) -> str:
    value = terms.get(key)
    if not isinstance(value, str) or not value.strip():
        raise EInvoiceRefused(f"{key} ({what}) missing")
    return value.strip()


def _decimal(value: object, where: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise EInvoiceRefused(f"{where}: {str(value)[:30]!r} is not an amount") from None
    if not amount.is_finite():
        raise EInvoiceRefused(f"{where}: {str(value)[:30]!r} is not an amount")
    return amount


def _amount(terms: dict[str, Any], key: str, what: str, number: str) -> Decimal:
    if terms.get(key) in (None, ""):
        raise EInvoiceRefused(f"invoice {number}: {key} ({what}) missing")
    return _decimal(terms[key], f"invoice {number}: {key} ({what})")


DAYS = re.compile(r"(\d{1,3})\s*(?:jours?|days?|j\b)", re.IGNORECASE)
END_OF_MONTH = re.compile(r"fin\s+de\s+mois|end\s+of\s+(?:the\s+)?month", re.IGNORECASE)


def _due_from_terms(text: str, issue: date) -> date | None:
    """The due date the payment terms say ("30 jours nets", "45 jours fin de mois", "60 days"): None if none."""
    found = DAYS.search(text)
    if found is None:
        return None
    try:
        due = issue + timedelta(days=int(found.group(1)))
        if END_OF_MONTH.search(text):  # 45 jours fin de mois: the end of the month the days reach
            following = date(due.year + due.month // 12, due.month % 12 + 1, 1)
            due = following - timedelta(days=1)
    except (OverflowError, ValueError):
        raise EInvoiceRefused(f"BT-20 (payment terms) {text[:40]!r} reach past the calendar from {issue}") from None
    return due


def _buyer(party: dict[str, Any], number: str) -> Buyer:
    name = party.get("name")
    if not isinstance(name, str) or not name.strip():
        raise EInvoiceRefused(f"invoice {number}: BT-44 (buyer name) missing")
    legal = re.sub(r"\D", "", str(party.get("legal_identifier") or ""))
    siren = siret = None
    if len(legal) == 14:
        siret, siren = legal, legal[:9]
    elif len(legal) == 9:
        siren = legal
    elif legal and str(party.get("legal_identifier_schemeid")) in ("0002", "0009"):
        raise EInvoiceRefused(f"invoice {number}: BT-47 (buyer legal registration) {legal!r} is no SIREN or SIRET")
    address = party.get("einvoicing_addr")
    scheme = str(party.get("einvoicing_addr_schemeid") or "")
    electronic = str(address) if address and scheme == "0225" else None
    contacts = party.get("contacts") or []
    email = next((c.get("email") for c in contacts if c.get("email")), None)
    if email is None and address and scheme == "EM":
        email = address
    phone = next((c.get("phone") for c in contacts if c.get("phone")), None)
    return Buyer(
        name=name.strip(), siren=siren, siret=siret, electronic_address=electronic,
        vat_id=party.get("vat_identifier"), email=email, phone=phone, line1=party.get("addr_l1"),
        line2=party.get("addr_l2"), postal_code=party.get("postcode"), city=party.get("city"),
        country=party.get("country_code"),
    )  # fmt: skip


def _iban(value: object) -> str | None:
    return re.sub(r"\s", "", str(value)).upper() if value else None
