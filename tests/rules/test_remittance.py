"""Where a bank credit goes (relance/domain/remittance.py), as table tests on real-looking remittance lines."""

from datetime import date
from decimal import Decimal

import pytest

from relance.domain.remittance import (
    Credit,
    Learned,
    OpenItem,
    Pay,
    Payer,
    Review,
    Unallocated,
    decide,
    invoice_references,
    normalize_iban,
    normalize_name,
)

D = Decimal
ITEMS = [
    OpenItem("F-2026-0042", "C-ACME", "EUR", D("1250.00"), date(2026, 4, 30)),
    OpenItem("F-2026-0043", "C-ACME", "EUR", D("800.00"), date(2026, 5, 15)),
    OpenItem("F-2026-0044", "C-ACME", "EUR", D("0"), date(2026, 3, 31), closed=True),
    OpenItem("1204", "C-DUP", "EUR", D("300.00"), date(2026, 4, 10)),
    OpenItem("1207", "C-DUP", "EUR", D("450.00"), date(2026, 4, 20)),
    OpenItem("INV-77", "C-MAR", "EUR", D("99.00"), date(2026, 5, 1)),
    OpenItem("2025/118", "C-MAR", "EUR", D("640.00"), date(2025, 12, 31)),
    OpenItem("US-5001", "C-US", "USD", D("500.00"), date(2026, 5, 1)),
]
IDS = [i.invoice_id for i in ITEMS]
ACME_IBAN = "FR76 3000 6000 0112 3456 7890 189"
LEARNED = Learned(ibans={normalize_iban(ACME_IBAN): "C-ACME"}, names={normalize_name("Dupont SARL"): "C-DUP"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("VIR SEPA FACT F2026-0042", ["F-2026-0042"]),
        ("FACT F20260042", ["F-2026-0042"]),
        ("fac 2026/0042", ["F-2026-0042"]),
        ("F-2026-0042 F-2026-0043", ["F-2026-0042", "F-2026-0043"]),
        ("FACT.F-2026-0043/F-2026-0042", ["F-2026-0043", "F-2026-0042"]),
        ("REGLT FACTURES 1204 1207", ["1204", "1207"]),
        ("reglement 1207 et 1204", ["1207", "1204"]),
        ("1204-1207", ["1204", "1207"]),
        ("Facture n° 1204", ["1204"]),
        ("FACTURE F 2026 0043", ["F-2026-0043"]),
        ("PAIEMENT INV-77", ["INV-77"]),
        ("REF 77", []),  # two digits alone could be anything
        ("VIR 2025/118 MARTIN", ["2025/118"]),
        ("VIR DUPONT SA", []),
        ("", []),
        ("F2026-0042 F2026-0042", ["F-2026-0042"]),
        ("Règlement facture F-2026-0042 échéance 30/04", ["F-2026-0042"]),
        ("F-2026-00420", []),  # one digit more is another number
        ("us-5001", ["US-5001"]),
        ("VIREMENT DE ACME SAS REF CLIENT 987654", []),
        ("RF18 5390 0754 7034", []),  # an ISO 11649 reference that is not ours
    ],
)
def test_invoice_references_in_remittance_text(text, expected):
    assert invoice_references(text, IDS) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "text", "payer", "expected"),
    [
        ("1250.00", "EUR", "FACT F20260042", Payer(), Pay("C-ACME", [("F-2026-0042", D("1250.00"))], "")),
        (
            "2050.00",
            "EUR",
            "F-2026-0042 F-2026-0043",
            Payer(),
            Pay("C-ACME", [("F-2026-0042", D("1250.00")), ("F-2026-0043", D("800.00"))], ""),
        ),
        (  # split in the order named
            "1000.00",
            "EUR",
            "F-2026-0043 F-2026-0042",
            Payer(),
            Pay("C-ACME", [("F-2026-0043", D("800.00")), ("F-2026-0042", D("200.00"))], ""),
        ),
        (  # then the customer's others, oldest due first
            "1500.00",
            "EUR",
            "F-2026-0042",
            Payer(),
            Pay("C-ACME", [("F-2026-0042", D("1250.00")), ("F-2026-0043", D("250.00"))], ""),
        ),
        (  # what is left is an overpayment on the last invoice named
            "2500.00",
            "EUR",
            "F-2026-0042",
            Payer(),
            Pay("C-ACME", [("F-2026-0042", D("1700.00")), ("F-2026-0043", D("800.00"))], ""),
        ),
        (
            "750.00",
            "EUR",
            "REGLT FACTURES 1204 1207",
            Payer(name="DUPONT"),
            Pay("C-DUP", [("1204", D("300.00")), ("1207", D("450.00"))], ""),
        ),
        ("300.00", "EUR", "VIR DUPONT SA", Payer(name="DUPONT SARL"), Pay("C-DUP", [("1204", D("300.00"))], "")),
        ("100.00", "EUR", "VIR DUPONT", Payer(name="Dupont"), Unallocated("C-DUP", D("100.00"), "")),
        ("500.00", "EUR", "", Payer(iban=ACME_IBAN.replace(" ", "")), Unallocated("C-ACME", D("500.00"), "")),
        ("800.00", "EUR", "VIREMENT", Payer(iban=ACME_IBAN), Pay("C-ACME", [("F-2026-0043", D("800.00"))], "")),
        ("640.00", "EUR", "VIREMENT", Payer(name="M. MARTIN"), Review("", ["2025/118"])),
        ("12.34", "EUR", "???", Payer(), Review("", [])),
        ("1250.00", "EUR", "F-2026-0042 1204", Payer(), Review("", ["F-2026-0042", "1204"])),
        ("1250.00", "EUR", "F-2026-0042", Payer(name="DUPONT"), Review("", ["F-2026-0042"])),
        ("500.00", "EUR", "F-2026-0044", Payer(), Credit("C-ACME", "F-2026-0044", D("500.00"), "")),
        ("500.00", "EUR", "US-5001", Payer(), Review("", ["US-5001"])),
        ("500.00", "USD", "US-5001", Payer(), Pay("C-US", [("US-5001", D("500.00"))], "")),
        ("99.00", "EUR", "PAIEMENT INV-77", Payer(), Pay("C-MAR", [("INV-77", D("99.00"))], "")),
    ],
)
def test_where_a_credit_goes(amount, currency, text, payer, expected):
    got = decide(D(amount), currency, text, payer, ITEMS, LEARNED)
    assert type(got) is type(expected)
    match expected:
        case Pay():
            assert (got.customer_id, got.allocations) == (expected.customer_id, expected.allocations)
        case Unallocated():
            assert (got.customer_id, got.amount) == (expected.customer_id, expected.amount)
        case Credit():
            assert (got.customer_id, got.invoice_id, got.amount) == (
                expected.customer_id,
                expected.invoice_id,
                expected.amount,
            )
        case Review():
            assert got.candidates == expected.candidates


@pytest.mark.parametrize(
    ("amount", "text", "payer", "why"),
    [
        ("1250.00", "F-2026-0042 1204", Payer(), "the text names invoices of several customers (C-ACME, C-DUP)"),
        (
            "1250.00",
            "F-2026-0042",
            Payer(name="DUPONT"),
            "the payer is known as customer C-DUP but the text names invoices of customer C-ACME",
        ),
        ("12.34", "???", Payer(), "nothing in the credit identifies an invoice or a customer"),
        ("640.00", "VIR", Payer(), "no invoice named and an unknown payer; open invoices of that amount"),
    ],
)
def test_a_review_says_why(amount, text, payer, why):
    review = decide(D(amount), "EUR", text, payer, ITEMS, LEARNED)
    assert isinstance(review, Review) and review.why == why


def test_names_and_ibans_compare_as_banks_print_them():
    assert normalize_name("Société Dupont S.A.R.L.") == normalize_name("STE DUPONT") == "DUPONT"
    assert normalize_name("DUPONT SARL") == normalize_name("Dupont") == "DUPONT"
    assert normalize_iban("fr76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"


def _paid(invoice_id, reference, amount, customer="C-1", e2e=None):
    from relance.domain.remittance import KnownPayment

    return KnownPayment(invoice_id, customer, reference, Decimal(amount), "EUR", e2e)


RETURNABLE = [
    _paid("F-1001", "CHQ-7", "300.00"),
    _paid("F-1002", "VIR-88", "300.00"),
    _paid("F-2001", "B-2@2026-05-12/F-2001", "500.00", customer="C-2", e2e="E2E-2"),
    _paid("F-2002", "B-2@2026-05-12/F-2002", "700.00", customer="C-2", e2e="E2E-2"),
    _paid("F-3001", "CHQ-9", "300.00", customer="C-3"),
]


@pytest.mark.parametrize(
    ("amount", "e2e", "text", "payer", "expected"),
    [
        ("1200.00", "E2E-2", "RETOUR", None, ["F-2001 B-2@2026-05-12/F-2001 500.00",
                                              "F-2002 B-2@2026-05-12/F-2002 700.00"]),  # the credit's id
        ("300.00", None, "IMPAYE CHQ-7 F-1001", None, ["F-1001 CHQ-7 300.00"]),  # the cheque, by its reference
        ("300.00", None, "IMPAYE CHQ 7", None, ["F-1001 CHQ-7 300.00"]),  # cut by the bank
        ("1200.00", None, "RETOUR B-2@2026-05-12", None, ["F-2001 B-2@2026-05-12/F-2001 500.00",
                                                          "F-2002 B-2@2026-05-12/F-2002 700.00"]),  # a split credit
        ("300.00", None, "IMPAYE F-1002", None, ["F-1002 VIR-88 300.00"]),  # the invoice, one payment of that amount
        ("300.00", None, "REJET", "DURAND", ["F-3001 CHQ-9 300.00"]),  # no text; the payer's only payment of 300
        ("300.00", None, "REJET", "ACME", "nothing in the return identifies the payment it undoes: F-1001 F-1002"),
        ("300.00", None, "REJET", None, "nothing in the return identifies the payment it undoes: F-1001 F-1002 F-3001"),
        ("300.00", None, "IMPAYE CHQ-7 CHQ-9", None, "the text names several payments: F-1001 F-3001"),
        ("400.00", None, "IMPAYE CHQ-7", None, "payment CHQ-7 named in the text, but the return (400.00) is more "
                                               "than what it paid: F-1001"),
        ("300.00", None, "IMPAYE 7", None, "nothing in the return identifies the payment it undoes: F-1001 F-1002 "
                                           "F-3001"),  # "7" could be anything
    ],
)  # fmt: skip
def test_a_return_is_matched_by_what_it_says(amount, e2e, text, payer, expected):
    from relance.domain.remittance import Learned, Payer, Reverse, match_return

    learned = Learned(names={"ACME": "C-1", "DURAND": "C-3"})
    found = match_return(Decimal(amount), "EUR", e2e, text, Payer(name=payer), RETURNABLE, learned)
    if isinstance(found, Reverse):
        assert [f"{i} {r} {a}" for i, r, a in found.parts] == expected
    else:
        assert f"{found.why}: {' '.join(found.candidates)}" == expected
