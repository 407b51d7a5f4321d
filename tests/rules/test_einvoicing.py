"""French e-invoicing, pure (issue "French e-invoicing"): e-invoices read from Factur-X, CII and UBL (ours, made
with the factur-x package, and the real samples in ../shared/real-files when present), what each platform status
does to a case, credit notes, the 212's split by VAT rate, and CDAR read, written and checked."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from relance.domain.actions import CreditNoteApplied, EInvoiceStatus
from relance.domain.case import CaseState
from relance.domain.case_legal import Outcome
from relance.domain.einvoicing import STATUSES, split_by_vat
from relance.einvoicing.cdar import CdarRefused, Party, cdar_212, check_cdar, read_cdar
from relance.einvoicing.invoices import EInvoiceRefused, read_einvoice
from tests.builders import (
    BUYER_SIREN,
    ROOT,
    START,
    case,
    cdar,
    cii_xml,
    einvoice_terms,
    facturx_pdf,
    ubl_xml,
)

REAL = ROOT.parent / "shared" / "real-files" / "einvoice"
AT = "2026-04-20T10:00:00+02:00"


@pytest.mark.parametrize("make", [cii_xml, ubl_xml, facturx_pdf], ids=["cii", "ubl", "facturx"])
def test_an_e_invoice_reads_into_the_case_it_opens(make: Any) -> None:
    invoice, pdf = read_einvoice(make(einvoice_terms("FA-2026-0101")))
    assert (invoice.format, pdf is not None) == (
        {cii_xml: "cii", ubl_xml: "ubl", facturx_pdf: "facturx"}[make],
        make is facturx_pdf,
    )
    fields = invoice.case_fields()
    assert fields == {
        "invoice_id": "FA-2026-0101",
        "customer": {
            "id": f"SIREN-{BUYER_SIREN}", "name": "Boulangerie Martin SAS", "kind": "business",
            "email": "compta@boulangerie-martin.example", "language": "fr", "phone": "+33 4 72 00 00 00",
            "address": {"line1": "8 quai Saint-Antoine", "postal_code": "69002", "city": "Lyon", "country": "FR"},
        },
        "amount": "1155.00", "currency": "EUR", "issue_date": "2026-10-01", "due_date": "2026-10-31",
        "metadata": {"einvoice_format": invoice.format, "siren": BUYER_SIREN,
                     "electronic_address": f"{BUYER_SIREN}_FACTURES"},
    }  # fmt: skip
    assert [(v.rate, v.base + v.tax) for v in invoice.vat] == [
        (Decimal("20.00"), Decimal("693.00")),
        (Decimal("5.50"), Decimal("462.00")),
    ]
    assert (invoice.seller_iban, invoice.credit_note, invoice.buyer.checks) == (
        "FR7630004000031234567890143",
        False,
        [],
    )


@pytest.mark.parametrize(
    ("terms", "due"),
    [
        ("30 jours nets", date(2026, 10, 31)),
        ("45 jours fin de mois", date(2026, 11, 30)),
        ("Payment within 60 days", date(2026, 11, 30)),
    ],
)
def test_without_a_due_date_the_payment_terms_give_it(terms: str, due: date) -> None:
    invoice, _ = read_einvoice(cii_xml(einvoice_terms("FA-T", due=None, terms=terms)))
    assert invoice.due_date == due


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (b"hello", "neither a PDF nor an XML document"),
        (b"%PDF-1.4 nothing", "not a readable PDF: "),
        (b"<Invoice/>", "the cii XML: "),
        (
            lambda: cii_xml(einvoice_terms("FA-X", due=None, terms="à réception")),
            "invoice FA-X: BT-9 (payment due date) missing, and the payment terms (BT-20) 'à réception' name no "
            "number of days",
        ),
    ],
    ids=["text", "pdf", "xml", "no-due-date"],
)
def test_what_cannot_be_read_is_refused_whole_with_the_element_named(data: Any, refusal: str) -> None:
    with pytest.raises(EInvoiceRefused) as refused:
        read_einvoice(data() if callable(data) else data)
    assert str(refused.value).startswith(refusal)


def test_an_invoice_without_a_buyer_e_mail_opens_no_case() -> None:
    invoice, _ = read_einvoice(ubl_xml(einvoice_terms("FA-NOMAIL", email=None)))
    with pytest.raises(EInvoiceRefused) as refused:
        invoice.case_fields()
    assert str(refused.value) == (
        "invoice FA-NOMAIL: missing BT-58 (buyer contact e-mail, or an electronic address of scheme EM)"
    )


@pytest.mark.parametrize(("type_code", "total"), [("381", "120.00"), ("380", "-120.00")], ids=["381", "380-negative"])
def test_a_credit_note_is_told_apart_and_names_the_invoice_it_corrects(type_code: str, total: str) -> None:
    note, _ = read_einvoice(cii_xml(einvoice_terms("AV-7", type_code=type_code, total=total, corrects="FA-2026-0101")))
    assert (note.credit_note, note.preceding, abs(note.total)) == (True, ("FA-2026-0101",), Decimal("120.00"))


@pytest.mark.skipif(not REAL.exists(), reason="../shared/real-files is not beside the repository")
def test_the_real_samples_read() -> None:
    read = {}
    for path in sorted((REAL / "facturx").iterdir()):
        invoice, pdf = read_einvoice(path.read_bytes())
        read[path.name] = (invoice.number, invoice.credit_note, invoice.amount_due, pdf is not None)
    assert read == {
        "akretion-factur-x-en16931.xml": ("F20260023", False, Decimal("104.90"), False),
        "akretion-invoice_EN16931.pdf": ("F20260023", False, Decimal("104.90"), True),
        "mustang-103767-Invoice-2026-03-24-1.pdf": ("103767", False, Decimal("681.87"), True),
        "mustang-Facture_F20180027.pdf": ("F20180027", False, Decimal("100.00"), True),
        "mustang-validAvoir_FR_type380_BASICWL.pdf": ("AV-2017-0005", True, Decimal("-233.47"), True),
    }
    statuses = {p.name: read_cdar(p.read_bytes()) for p in sorted((REAL / "cdar").iterdir())}
    doublon = statuses["gobl-parse-cdv-210-note-only-reason.xml"][0]
    assert (doublon.code, doublon.reason_code, doublon.invoice) == ("210", "DOUBLON", "F202500003")
    assert doublon.note == "Facture déjà reçue le 12/08/2026 sous la référence F202500001 / " + (
        "Merci de ne pas réémettre cette facture"
    )
    paid = statuses["gobl-payment-212-encaissee.xml"][0]
    assert (paid.code, paid.amount, paid.currency, paid.issuer_role) == ("212", Decimal("500.00"), "EUR", "SE")
    assert statuses["gobl-status-210-refusee.xml"][0].reason_code == "TX_TVA_ERR"
    for path in (REAL / "cdar").iterdir():
        assert check_cdar(path.read_bytes()) == [], path.name


def status(code: str, n: int = 1, **extra: Any) -> EInvoiceStatus:
    return EInvoiceStatus.model_validate({"status_id": f"M-{n}:1", "code": code, "at": AT, **extra})


def taken(state: CaseState, *actions: Any) -> CaseState:
    for one in actions:
        state.check(one, START)
        state.apply(one, START)
    return state


def test_what_each_status_does_to_the_case() -> None:
    received = taken(case(), status("202"))
    assert (received.einvoice_received_on, received.on_hold) == (date(2026, 4, 20), False)
    disputed = taken(case(), status("207", reason_code="LIT_PRIX", note="prix non conforme"))
    assert disputed.dispute is not None
    assert disputed.dispute.reason == "plateforme de facturation, 207 En litige: LIT_PRIX; prix non conforme"
    refused = taken(case(), status("210", reason_code="TX_TVA_ERR"))
    assert refused.dispute is not None and refused.dispute.reason.endswith("210 Refusée: TX_TVA_ERR")
    suspended = taken(case(), status("208", note="bon de commande manquant"))
    assert suspended.manual_pause is not None and suspended.manual_pause.until is None
    completed = taken(suspended, status("209", 2))
    assert completed.manual_pause is None
    sent = taken(case(), status("211"))
    assert sent.manual_pause is not None and sent.manual_pause.until == date(2026, 4, 27)  # the policy's 7 days
    partly = taken(case(), status("206", amount="1000.00"))
    assert (partly.einvoice.contested if partly.einvoice else None, partly.balance) == (
        Decimal("250.00"),
        Decimal("1250.00"),
    )
    approved = taken(partly, status("205", 2))
    assert approved.einvoice is not None and approved.einvoice.contested == 0
    rejected = taken(case(), status("213", reason_code="REJ_SEMAN"))
    assert (rejected.outcome, rejected.history[-1].detail) == (
        Outcome.cancelled,
        "the invoice is not legally issued: 213 Rejetée: REJ_SEMAN",
    )
    for code in ("200", "201", "204", "212"):
        recorded = taken(case(), status(code))
        assert (recorded.on_hold, recorded.closed, recorded.history[-1].event) == (False, False, "einvoice_status")


def test_a_206_needs_the_approved_part_below_the_balance() -> None:
    with pytest.raises(ValueError, match=r"a 206 .* needs the approved amount"):
        case().check(status("206"), START)
    with pytest.raises(ValueError, match=r"not below the balance 1250\.00: a 205"):
        case().check(status("206", amount="1250.00"), START)


def test_a_credit_note_credits_once_and_the_whole_balance_closes_the_case() -> None:
    state = taken(case(), CreditNoteApplied(credit_note="AV-1", amount=Decimal("250.00")))
    assert (state.balance, state.credited, state.closed) == (Decimal("1000.00"), Decimal("250.00"), False)
    with pytest.raises(ValueError, match="credit note AV-1 is already applied"):
        state.check(CreditNoteApplied(credit_note="AV-1", amount=Decimal("250.00")), START)
    closed = taken(state, CreditNoteApplied(credit_note="AV-2", amount=Decimal("1000.00")))
    assert (closed.outcome, closed.balance) == (Outcome.cancelled, Decimal("0"))


@pytest.mark.parametrize(
    ("amount", "shares", "parts"),
    [
        ("1155.00", [("20", "693.00"), ("5.5", "462.00")], [("20", "693.00"), ("5.5", "462.00")]),
        ("100.00", [("20", "693.00"), ("5.5", "462.00")], [("20", "60.00"), ("5.5", "40.00")]),
        ("0.01", [("20", "1"), ("10", "1"), ("5.5", "1")], [("20", "0.01"), ("10", "0.00"), ("5.5", "0.00")]),
        ("100.00", [("20", "1"), ("10", "1"), ("5.5", "1")], [("20", "33.34"), ("10", "33.33"), ("5.5", "33.33")]),
        ("-100.00", [("20", "693.00"), ("5.5", "462.00")], [("20", "-60.00"), ("5.5", "-40.00")]),
        ("42.00", [], [("0", "42.00")]),
    ],
)
def test_a_payment_splits_by_vat_rate_in_proportion_and_adds_up(
    amount: str, shares: list[tuple[str, str]], parts: list[tuple[str, str]]
) -> None:
    split = split_by_vat(Decimal(amount), [(Decimal(r), Decimal(s)) for r, s in shares])
    assert [(str(r.normalize()), str(p)) for r, p in split] == [(str(Decimal(r).normalize()), p) for r, p in parts]
    assert sum(p for _, p in split) == Decimal(amount)


def test_a_212_we_write_reads_back_checks_and_adds_up() -> None:
    parts = [(Decimal("20.00"), Decimal("60.00")), (Decimal("5.50"), Decimal("40.00"))]
    xml = cdar_212(
        message_id="RELANCE-212-X", seller=Party("100000009", "Relance Demo SAS", "100000009_RELANCE"),
        buyer=Party(BUYER_SIREN, "Boulangerie Martin SAS", None), invoice="FA-2026-0101",
        invoice_date=date(2026, 10, 1), type_code="380", currency="EUR", parts=parts,
        at=datetime(2026, 12, 7, 9, 30, tzinfo=START.tzinfo),
    )  # fmt: skip
    assert check_cdar(xml) == []
    (read,) = read_cdar(xml)
    assert (read.code, read.label, read.invoice, read.amount, read.currency) == (
        "212", "Encaissée", "FA-2026-0101", Decimal("100.00"), "EUR"
    )  # fmt: skip
    assert b"<ram:ValuePercent>5.50</ram:ValuePercent>" in xml and b"20261207093000" in xml


def test_the_cdv_checks_name_what_is_wrong() -> None:
    assert check_cdar(cdar("M", "FA-1", "299", "Inventée")) == [
        "ReferenceReferencedDocument[1]/ProcessConditionCode '299' is not a status of the list (200-213)"
    ]
    assert check_cdar(cdar("M", "FA-1", "210", "Acceptée")) == [
        "ReferenceReferencedDocument[1]/ProcessCondition 'Acceptée' is not 'Refusée'"
    ]
    assert check_cdar(cdar("M", "FA-1", "212", "Encaissée")) == [
        "ReferenceReferencedDocument[1]: a 212 states the amount collected (a MEN characteristic)"
    ]
    with pytest.raises(CdarRefused, match="GuidelineSpecifiedDocumentContextParameter/ID is 'other'"):
        read_cdar(cdar("M", "FA-1", "210", "Refusée").replace(b"urn.cpro.gouv.fr:1p0:CDV:invoice", b"other"))
    with pytest.raises(CdarRefused, match="not well-formed XML"):
        read_cdar(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")


def test_a_cdar_out_of_the_profiles_structure_is_named_by_the_schema() -> None:
    good = cdar("M", "FA-1", "210", "Refusée", reason_code="TX_TVA_ERR")
    swapped = good.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"").replace(
        b"</ram:ProcessCondition>", b"</ram:ProcessCondition><ram:TypeCode>380</ram:TypeCode>"
    )  # the document's type after its status: not where the profile puts it
    (problem,) = check_cdar(swapped)
    assert problem.startswith("line 23: Element '{urn:un:unece:uncefact:data:standard:")
    assert "TypeCode': This element is not expected." in problem
    unpriced = good.replace(
        b"<ram:SequenceNumeric>1</ram:SequenceNumeric>",
        b"<ram:SequenceNumeric>1</ram:SequenceNumeric><ram:SpecifiedDocumentCharacteristic><ram:TypeCode>MEN"
        b"</ram:TypeCode><ram:ValueAmount>12.00</ram:ValueAmount></ram:SpecifiedDocumentCharacteristic>",
    )
    assert any("currencyID" in p and "is required but missing" in p for p in check_cdar(unpriced))


def test_every_status_code_says_what_it_does() -> None:
    assert sorted(STATUSES) == [str(code) for code in range(200, 214)]
    assert all(status.meaning for status in STATUSES.values())
