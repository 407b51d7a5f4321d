"""Reading bank statements (relance/bank/): CAMT.053 .001.02 and .001.08, CAMT.054, CFONB 120, on sample
files written for these tests (tests/fixtures/bank/), and the bad files a bank connector can hand over."""

from datetime import date
from decimal import Decimal

import pytest

from relance.bank.camt import parse_camt
from relance.bank.cfonb import parse_cfonb
from relance.bank.csv_export import load_mapping, parse_csv
from relance.bank.entries import StatementRefused
from tests.builders import ROOT

FILES = ROOT / "tests" / "fixtures" / "bank"
OURS = "FR7630004000031234567890143"


def test_camt053_v02_entries_batches_returns_and_pending():
    statement = parse_camt((FILES / "camt053_v02.xml").read_bytes())
    assert (statement.format, statement.statement_id, statement.account) == ("camt.053.001.02", "2026-05-12-001", OURS)
    single, batch, returned, pending = statement.entries
    assert (single.reference, single.amount, single.currency, single.credit, single.booked) == (
        "20260512-0001@2026-05-12",
        Decimal("1250.00"),
        "EUR",
        True,
        True,
    )
    (tx,) = single.transactions
    assert (tx.end_to_end_id, tx.debtor_name, tx.debtor_iban, tx.remittance) == (
        "E2E-ACME-1",
        "ACME SAS",
        "FR7630006000011234567890189",
        "VIR SEPA FACT F2026-0042",
    )
    assert [(t.amount, t.remittance, t.debtor_iban) for t in batch.transactions] == [
        (Decimal("300.00"), "REGLT FACTURE 1204", "FR7610278060310002055160150"),
        (Decimal("450.00"), "1207", None),  # a structured reference; an invalid IBAN is not kept
    ]
    assert (returned.credit, returned.reversal, returned.is_return) == (False, True, True)
    assert returned.transactions[0].return_reason == "AM04"
    assert (pending.booked, pending.reference.startswith("h:"), pending.value_date) == (False, True, None)


def test_camt053_v08_and_camt054_read_the_moved_elements():
    v08 = parse_camt((FILES / "camt053_v08.xml").read_bytes())
    (entry,) = v08.entries
    assert (v08.format, entry.booked, entry.booking_date, entry.amount) == (
        "camt.053.001.08",
        True,
        date(2026, 5, 13),
        Decimal("800.00"),
    )
    assert (entry.transactions[0].debtor_name, entry.transactions[0].remittance) == ("ACME SAS", "fac 2026/0043")
    notification = parse_camt((FILES / "camt054_v08.xml").read_bytes())
    (notified,) = notification.entries
    assert notification.format == "camt.054.001.08"
    # the same entry as in the day's statement: the same bank reference, so it is applied once
    assert notified.reference == parse_camt((FILES / "camt053_v02.xml").read_bytes()).entries[0].reference


def test_an_entry_without_bank_reference_hashes_alike_in_every_file():
    text = (FILES / "camt053_v02.xml").read_bytes()
    assert (
        parse_camt(text).entries[3].reference
        == parse_camt(text.replace(b"<GrpHdr>", b"<GrpHdr> ")).entries[3].reference
    )


def test_cfonb120_movements_complements_and_a_rejection():
    statement = parse_cfonb((FILES / "cfonb120.txt").read_text(encoding="ascii"))
    assert (statement.format, statement.account) == ("cfonb120", "300040000312345678901")
    credit, rejected = statement.entries
    assert (credit.amount, credit.credit, credit.booking_date, credit.bank_reference, credit.aliases) == (
        Decimal("1250.00"),
        True,
        date(2026, 5, 12),
        "2026-05-12:0001201",
        ("2026-05-12:0001201",),  # the key the reader gave it before keys were hashes: ledgers have it
    )
    assert credit.reference.startswith("h:") and credit.reference != rejected.reference
    (tx,) = credit.transactions
    assert (tx.remittance, tx.debtor_name, tx.end_to_end_id) == (
        "VIR SEPA ACME SAS FACT F2026-0042",
        "ACME SAS",
        "E2E-ACME-1",
    )
    assert (rejected.amount, rejected.credit, rejected.is_return, rejected.transactions[0].return_reason) == (
        Decimal("300.00"),
        False,
        True,
        "04",
    )


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&lol3;</BkToCstmrStmt></Document>"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ((FILES / "camt053_v02.xml").read_bytes()[:900], "the XML is not well-formed (line"),
        (
            (FILES / "camt053_v02.xml").read_bytes().replace(b"camt.053.001.02", b"pain.001.001.03"),
            "not a CAMT.053 or CAMT.054 document of version .001.02 to .001.10",
        ),
        (
            (FILES / "camt053_v02.xml").read_bytes().replace(b"camt.053.001.02", b"camt.053.001.11"),
            "not a CAMT.053 or CAMT.054 document of version .001.02 to .001.10",
        ),
        (BILLION_LAUGHS, "the XML declares a DTD or entities, which a bank statement never needs"),
        (
            (FILES / "camt053_v02.xml").read_bytes().replace(b'"EUR">1250.00', b'"EUR">12,50', 1),
            "Stmt 2026-05-12-001, entry 1: amount '12,50' is not a number",
        ),
        (
            (FILES / "camt053_v02.xml").read_bytes().replace(b"<CdtDbtInd>CRDT", b"<CdtDbtInd>CRED", 1),
            "Stmt 2026-05-12-001, entry 1: CdtDbtInd 'CRED' is neither CRDT nor DBIT",
        ),
    ],
)
def test_a_bad_camt_file_is_refused_with_its_reason(data, reason):
    with pytest.raises(StatementRefused) as refused:
        parse_camt(data)
    assert str(refused.value).startswith(reason)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda lines: [lines[0], lines[1][:-1], *lines[2:]], "line 2 is 119 characters long; CFONB 120 lines are 120"),
        (lambda lines: [lines[0], "09" + lines[1][2:], *lines[2:]], "line 2: record code '09' is not 01, 04, 05 or 07"),
        (
            lambda lines: [lines[0], lines[1][:34] + "310226" + lines[1][40:], *lines[2:]],
            "line 2: '310226' is not a date",
        ),
        (lambda lines: [lines[0], lines[1][:103] + "X" + lines[1][104:], *lines[2:]], "line 2: amount"),
        (lambda lines: [lines[2], *lines[3:]], "line 1: a complement (05) before any movement (04)"),
        (lambda lines: [], "the file is empty"),
    ],
)
def test_a_bad_cfonb_file_is_refused_with_its_line(change, reason):
    lines = (FILES / "cfonb120.txt").read_bytes().decode("ascii").split("\r\n")[:-1]
    with pytest.raises(StatementRefused) as refused:
        parse_cfonb("\r\n".join(change(lines)))
    assert str(refused.value).startswith(reason)


def test_a_csv_export_read_through_its_mapping():
    mapping = load_mapping(FILES / "csv-mapping.yaml")
    statement = parse_csv((FILES / "export.csv").read_bytes(), mapping)
    paid, fee, batch = statement.entries
    assert (paid.reference, paid.amount, paid.credit, paid.booking_date) == (
        "CSV-1",
        Decimal("1250.00"),
        True,
        date(2026, 5, 12),
    )
    assert (paid.transactions[0].debtor_iban, paid.transactions[0].remittance) == (
        "FR7630006000011234567890189",
        "VIR SEPA FACT F2026-0042",
    )
    assert (fee.amount, fee.credit, fee.is_return) == (Decimal("12.50"), False, False)
    assert batch.reference.startswith("h:") and batch.transactions[0].debtor_name == "DUPONT SARL"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t.replace("1 250,00", "1 250,0O"), "line 2: '1 250,0O' is not an amount"),
        (lambda t: t.replace("13/05/2026", "2026-05-13"), "line 4: '2026-05-13' is not a date %d/%m/%Y"),
        (lambda t: t.replace("Montant", "Amount"), "the CSV has no column 'Montant' (mapping)"),
    ],
)
def test_a_bad_csv_export_is_refused_with_its_line(change, reason):
    text = (FILES / "export.csv").read_bytes().decode("cp1252")
    with pytest.raises(StatementRefused) as refused:
        parse_csv(change(text).encode("cp1252"), load_mapping(FILES / "csv-mapping.yaml"))
    assert str(refused.value) == reason


def test_a_mapping_must_name_the_money_columns(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("account: FR7630004000031234567890143\ncolumns: {booking_date: D, remittance: L}\n")
    with pytest.raises(StatementRefused, match="map either amount"):
        load_mapping(bad)
