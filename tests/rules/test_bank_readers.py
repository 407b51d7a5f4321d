"""The defects real statements showed in the readers (issue: money from the bank is never lost or misread),
each on a fixture written for these tests in the layout banks use: CFONB 120 credits of one day with zeroed
entry numbers, the payer's name beside our own, several accounts in one file, records back to back or between
blank lines; CAMT dates with a timezone, entries without Sts, a bank reference shared by two movements,
versions .001.09 and .001.10, and credits that are our own money coming back."""

from datetime import date
from decimal import Decimal

import pytest

from relance.bank.camt import parse_camt
from relance.bank.cfonb import parse_cfonb
from relance.bank.entries import (
    SEEN,
    SEEN_UNDER_OLDER_KEY,
    BankEntry,
    Conflict,
    Prior,
    StatementRefused,
    prior_verdict,
)
from tests.builders import ROOT

FILES = ROOT / "tests" / "fixtures" / "bank"
TWO_ACCOUNTS = (FILES / "cfonb120-two-accounts.txt").read_bytes().decode("ascii")
OURS = "FR7630004000031234567890143"


def test_cfonb_credits_of_one_day_with_zeroed_entry_numbers_are_distinct_entries():
    statement = parse_cfonb(TWO_ACCOUNTS)
    first = [e for e in statement.entries if e.account == "300040000312345678901"]
    assert [(e.amount, e.credit) for e in first] == [
        (Decimal("1250.00"), True),
        (Decimal("480.00"), True),
        (Decimal("480.00"), True),  # the same transfer twice on one day: two movements, two keys
        (Decimal("99.50"), False),
    ]
    keys = [e.reference for e in statement.entries]
    assert len(set(keys)) == len(keys) == 6
    assert keys[2] == f"{keys[1]}#2"  # identical movements are told apart by their rank
    assert [e.bank_reference for e in first] == [None, None, None, None]  # zeros name nothing


def test_cfonb_keys_are_the_same_in_an_overlapping_statement():
    alone = parse_cfonb("\r\n".join(TWO_ACCOUNTS.split("\r\n")[:12]) + "\r\n")  # the first account, 2 credits
    assert [e.reference for e in alone.entries] == [e.reference for e in parse_cfonb(TWO_ACCOUNTS).entries[:3]]


def test_cfonb_the_payer_is_the_npy_complement_never_our_own_name_in_nbe():
    credit, *_ = parse_cfonb(TWO_ACCOUNTS).entries
    (tx,) = credit.transactions
    assert (tx.debtor_name, tx.end_to_end_id, tx.remittance) == (
        "DUPONT SARL",
        "E2E-DUPONT-42",
        "VIR SEPA DUPONT SARL FACT F2026-0042 E2E-DUPONT-42",
    )
    debit = parse_cfonb(TWO_ACCOUNTS).entries[3]
    assert debit.transactions[0].mandate_id == "MANDAT-ENERGIE-7"


def test_cfonb_each_account_section_keeps_its_movements():
    statement = parse_cfonb(TWO_ACCOUNTS)
    assert [(e.account, e.amount, e.credit, e.is_return) for e in statement.entries[4:]] == [
        ("300040001798765432100", Decimal("300.00"), True, False),
        ("300040001798765432100", Decimal("300.00"), False, True),
    ]
    assert statement.entries[4].bank_reference == "2026-05-12:0004711"


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda t: t.replace("\r\n", "\n"), id="LF"),
        pytest.param(lambda t: t.replace("\r\n", ""), id="records back to back"),
        pytest.param(lambda t: t.replace("\r\n", "\r\n\r\n"), id="blank lines"),
        pytest.param(lambda t: t.replace("\r\n", "\n   \n"), id="lines of spaces"),
        pytest.param(lambda t: t.replace("\r\n", "\r"), id="CR"),
    ],
)
def test_cfonb_layouts_seen_in_the_wild_read_alike(layout):
    expected = parse_cfonb(TWO_ACCOUNTS)
    assert parse_cfonb(layout(TWO_ACCOUNTS)) == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t[:100] + t[101:], "line 1 is 119 characters long"),
        (lambda t: t.split("\r\n", 1)[1], "line 1: a movement (04) before any old-balance record (01)"),
        (
            lambda t: t.replace("0430004000500003EUR2 12345678901", "0430004000500003EUR2 12345678999", 1),
            "line 2: a movement of account '12345678999' inside the section of account '12345678901'",
        ),
    ],
)
def test_a_bad_cfonb_layout_is_refused_with_its_line(change, reason):
    with pytest.raises(StatementRefused) as refused:
        parse_cfonb(change(TWO_ACCOUNTS))
    assert str(refused.value).startswith(reason)


def camt(version: str, *entries: str, account: str = f"<Acct><Id><IBAN>{OURS}</IBAN></Id></Acct>",
         message: str = "053") -> bytes:  # fmt: skip
    group, item = ("BkToCstmrStmt", "Stmt") if message == "053" else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{message}.001.{version}"><{group}>
<GrpHdr><MsgId>M-1</MsgId><CreDtTm>2026-05-12T20:00:00</CreDtTm></GrpHdr>
<{item}><Id>S-1</Id>{account}{"".join(entries)}</{item}></{group}></Document>""".encode()


def ntry(amount: str, *, ref: str | None = "R-1", booked: str | None = "<Sts><Cd>BOOK</Cd></Sts>",
         day: str = "2026-05-12", credit: bool = True, reversal: bool = False, returned: str | None = None,
         e2e: str = "E2E-1") -> str:  # fmt: skip
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{"CRDT" if credit else "DBIT"}</CdtDbtInd>'
        f"{'<RvslInd>true</RvslInd>' if reversal else ''}{booked or ''}"
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"{f'<AcctSvcrRef>{ref}</AcctSvcrRef>' if ref else ''}"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>"
        f"{f'<RtrInf><Rsn><Cd>{returned}</Cd></Rsn></RtrInf>' if returned else ''}</TxDtls></NtryDtls></Ntry>"
    )


@pytest.mark.parametrize("version", ["02", "04", "08", "09", "10"])
def test_camt_versions_up_to_10_are_read(version):
    (entry,) = parse_camt(camt(version, ntry("10.00"))).entries
    assert (entry.reference, entry.amount, entry.booked) == ("R-1@2026-05-12", Decimal("10.00"), True)


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2017-04-01+02:00", date(2017, 4, 1)), ("2017-04-01Z", date(2017, 4, 1)), ("2017-04-01-05:00", date(2017, 4, 1))],
)
def test_camt_a_date_with_a_timezone_is_a_date(day, expected):
    (entry,) = parse_camt(camt("04", ntry("10.00", day=day))).entries
    assert (entry.booking_date, entry.value_date) == (expected, expected)


def test_camt_a_date_that_is_not_one_is_refused_naming_it():
    with pytest.raises(StatementRefused, match=r"entry 1: BookgDt '2017-04-01\+2' is not a date"):
        parse_camt(camt("04", ntry("10.00", day="2017-04-01+2")))


@pytest.mark.parametrize(
    ("message", "booked", "expected"),
    [
        ("053", None, True),  # a statement lists what was booked
        ("054", None, True),  # a notification that gives a booking date
        ("053", "<Sts><Cd>PDNG</Cd></Sts>", False),
        ("054", "<Sts>INFO</Sts>", False),  # information only: never booked
        ("053", "<Sts>BOOK</Sts>", True),  # the older layout, a code without Cd
    ],
)
def test_camt_an_entry_without_sts_is_not_left_pending_for_ever(message, booked, expected):
    (entry,) = parse_camt(camt("08", ntry("10.00", booked=booked), message=message)).entries
    assert entry.booked is expected


def test_camt_two_movements_sharing_a_bank_reference_are_two_entries():
    first, second, third = parse_camt(
        camt("04", ntry("1537.00", day="2020-11-25"), ntry("1692.22", day="2020-11-24"), ntry("5.00", ref=None))
    ).entries
    assert (first.reference, second.reference) == ("R-1@2020-11-25", "R-1@2020-11-24")
    assert first.bank_reference == second.bank_reference == "R-1"
    assert third.reference.startswith("h:") and third.bank_reference is None


def test_camt_053_and_054_of_one_movement_share_its_key():
    statement = parse_camt(camt("08", ntry("10.00")))
    notification = parse_camt(camt("08", ntry("10.00", booked=None), message="054"))
    assert statement.entries[0].reference == notification.entries[0].reference
    assert statement.entries[0].fingerprint == notification.entries[0].fingerprint == "C 10.00 EUR 2026-05-12"


@pytest.mark.parametrize(
    ("entry", "ours", "customer_return"),
    [
        (ntry("10.00", reversal=True), True, False),  # a debit of ours reversed: RvslInd on a credit
        (ntry("10.00", returned="AC01"), True, False),  # our transfer came back: RtrInf on a credit
        (ntry("10.00"), False, False),  # a customer paying
        (ntry("10.00", credit=False, returned="AM04"), False, True),  # a customer's direct debit returned
        (ntry("10.00", credit=False, reversal=True), False, True),
    ],
)
def test_camt_a_credit_that_is_our_money_coming_back_is_not_a_customer_paying(entry, ours, customer_return):
    (read,) = parse_camt(camt("08", entry)).entries
    assert (read.comes_back_to_us, read.is_return) == (ours, customer_return)


def test_camt_a_placeholder_end_to_end_id_is_none():
    (entry,) = parse_camt(camt("08", ntry("10.00", e2e="NOTPROVIDED"))).entries
    assert entry.transactions[0].end_to_end_id is None


@pytest.mark.parametrize(
    ("account", "given", "expected"),
    [
        ("", "FR7630004000031234567890143", "FR7630004000031234567890143"),
        ("<Acct><Id><Othr><Id>01-12345-6</Id></Othr></Id></Acct>", None, "01-12345-6"),
        (f"<Acct><Id><IBAN>{OURS}</IBAN></Id></Acct>", "CH9300762011623852957", OURS),  # the file's own wins
    ],
)
def test_camt_the_account_is_the_files_or_the_one_given(account, given, expected):
    assert parse_camt(camt("08", ntry("1.00"), account=account), account=given).entries[0].account == expected


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        ("", "Stmt S-1 names no account; give the account it is for (--account)"),
        (
            "<Acct><Id><IBAN>CHxxxxxxxxxxxxxxxxxxx</IBAN></Id></Acct>",
            "Stmt S-1: the account IBAN 'CHxxxxxxxxxxxxxxxxxxx' is not a valid IBAN (masked?)",
        ),
    ],
)
def test_camt_an_account_that_cannot_be_known_is_refused(account, reason):
    with pytest.raises(StatementRefused) as refused:
        parse_camt(camt("08", ntry("1.00"), account=account))
    assert str(refused.value) == reason


ENTRY = BankEntry(OURS, "R-1@2026-05-12", Decimal("10.00"), "EUR", True, True, date(2026, 5, 12), None,
                  bank_reference="R-1", aliases=("R-1",))  # fmt: skip


def prior(reference: str, fingerprint: str | None = "C 10.00 EUR 2026-05-12", *, statement: str = "S-0",
          amount: str = "10.00", credit: bool = True, day: date = date(2026, 5, 12),
          bank_reference: str | None = "R-1") -> Prior:  # fmt: skip
    return Prior(reference, statement, fingerprint, credit, Decimal(amount), "EUR", day, bank_reference)


@pytest.mark.parametrize(
    ("priors", "expected"),
    [
        ([], None),
        ([prior("R-1@2026-05-12")], SEEN),
        ([prior("R-1@2026-05-12/1"), prior("R-1@2026-05-12/2")], SEEN),  # a batch's parts
        ([prior("R-1@2026-05-12", "C 12.00 EUR 2026-05-12")], "conflict"),  # same key, another amount
        ([prior("R-1@2026-05-12", "D 10.00 EUR 2026-05-12")], "conflict"),  # another direction
        ([prior("R-1", None)], SEEN_UNDER_OLDER_KEY),  # kept by the older reader under the bank reference alone
        ([prior("R-1", None, amount="12.00")], None),  # the older reader's collision: another movement
        ([prior("R-1", None, day=date(2026, 5, 11))], None),
        ([prior("R-1@2026-05-11", "C 10.00 EUR 2026-05-11")], "conflict"),  # same reference and amount, redated
        ([prior("R-1@2026-05-11", "C 10.00 EUR 2026-05-11", statement="S-1")], None),  # this very file: two
        ([prior("R-1@2026-05-11", "C 99.00 EUR 2026-05-11")], None),  # the bank reuses its reference
    ],
)
def test_an_entry_already_seen_is_checked_not_trusted(priors, expected):
    verdict = prior_verdict(ENTRY, priors, "S-1")
    assert (verdict if not isinstance(verdict, Conflict) else "conflict") == expected


@pytest.mark.parametrize(
    ("data", "format_", "expected"),
    [
        (TWO_ACCOUNTS.encode(), None, "cfonb120"),
        (TWO_ACCOUNTS.replace("\r\n", "").encode(), None, "cfonb120"),  # records back to back
        (b"\xef\xbb\xbf" + camt("08", ntry("1.00")), None, "camt.053.001.08"),
        (camt("08", ntry("1.00"), message="054"), "camt054", "camt.054.001.08"),
    ],
)
def test_a_statement_is_read_by_its_content(data, format_, expected):
    from relance.bank.reading import read_statement

    assert read_statement(data, format_=format_).format == expected


@pytest.mark.parametrize(
    ("data", "format_", "reason"),
    [
        (b"Date;Montant\n", None, "cannot tell the format of the file; give --format camt053|camt054|cfonb120|csv"),
        (camt("08", ntry("1.00")), "camt054", "the file is camt.053.001.08, not camt054"),
        (camt("08", ntry("1.00")), "mt940", "--format 'mt940': expected one of camt053, camt054, cfonb120, csv"),
        (b"x", "csv", "a CSV export needs --format csv and --mapping FILE (the YAML that names its columns)"),
    ],
)
def test_a_statement_that_cannot_be_read_says_why(data, format_, reason):
    from relance.bank.reading import read_statement

    with pytest.raises(StatementRefused) as refused:
        read_statement(data, format_=format_)
    assert str(refused.value) == reason


@pytest.mark.parametrize(
    ("ours", "unknown"),
    [
        (frozenset(), []),  # no list kept: any account
        # a CFONB file names a French account by bank, branch and number: the IBAN's BBAN without its key
        (frozenset({"FR7630004000031234567890143"}), ["300040001798765432100"]),
        (frozenset({"FR7630004000031234567890143", "300040001798765432100"}), []),
        (frozenset({"FR7630004000179876543210053"}), ["300040000312345678901"]),
    ],
)  # fmt: skip
def test_a_statement_of_an_account_not_ours_is_known(ours, unknown):
    from relance.bank.reading import unknown_accounts

    assert unknown_accounts(parse_cfonb(TWO_ACCOUNTS), ours) == unknown
