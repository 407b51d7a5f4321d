"""The readers on real statements published by banks and by other parsers' projects (../shared/real-files/bank,
origins and licences in its README; read there, never copied here). Skipped where that folder is absent.

Per file: how many entries, credits, debits, returns (a customer's payment given back, or our own money coming
back), entries not booked and accounts are read, and that no two distinct entries share a key. Across files:
the same movement in two files (a CAMT.053 and its CAMT.054, or one statement in two schema versions, or one
CFONB file in two layouts) has one key and one fingerprint. A file refused is refused with its reason, which the
README's bank section repeats."""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from relance.bank.camt import parse_camt
from relance.bank.cfonb import parse_cfonb
from relance.bank.entries import Statement, StatementRefused
from tests.builders import ROOT

REAL = ROOT.parent / "shared" / "real-files" / "bank"
GIVEN_ACCOUNT = "CH9300762011623852957"  # for the samples trimmed of their account (as `--account` gives it)

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is absent (real files are not in the repository)")

# file: entries, credits, debits, returns, not booked, accounts; or the reason it is refused
EXPECTED: dict[str, tuple[int, int, int, int, int, int] | str] = {
    "camt053/genkgo-multi-v02.xml": (2, 1, 1, 0, 0, 1),
    "camt053/genkgo-v03.xml": (1, 1, 0, 0, 0, 1),
    "camt053/genkgo-v08.xml": (1, 1, 0, 0, 0, 1),
    "camt053/gls-v02.xml": (4, 2, 2, 1, 0, 1),
    "camt053/kedder-gcamp6-v02.xml": (5, 5, 0, 0, 0, 1),
    "camt053/kedder-swiss-sps2-v08.xml": (1, 1, 0, 0, 0, 1),
    "camt053/oca-abnamro-v02.xml": (3, 1, 2, 1, 0, 1),
    "camt053/postfinance-2016-v04.xml": (13, 5, 8, 3, 0, 1),
    "camt053/postfinance-libeufin-v08.xml": (2, 2, 0, 2, 0, 1),
    "camt053/postfinance-testbench-v04.xml": (5, 4, 1, 0, 0, 1),
    "camt053/postfinance-testbench-v08.xml": (5, 4, 1, 0, 0, 1),
    "camt053/six-business-sample-v04.xml": (3, 2, 1, 0, 0, 1),
    "camt053/subite-account-statement-v02.xml": (3, 1, 2, 0, 0, 1),
    "camt053/subite-be-2024-11-v02.xml": (268, 4, 264, 0, 0, 1),
    "camt053/subite-lt-v08.xml": (3, 1, 2, 0, 0, 1),
    "camt053/viafintech-v02.xml": (4, 1, 3, 0, 0, 1),
    "camt054/genkgo-v02.xml": (1, 0, 1, 0, 0, 1),
    "camt054/genkgo-v08.xml": (1, 0, 1, 0, 0, 1),
    "camt054/gls-v08.xml": (1, 1, 0, 0, 0, 1),
    "camt054/oca-swiss-sps17-v04.xml": (1, 1, 0, 0, 0, 1),
    "camt054/postfinance-chdd-v08.xml": (1, 1, 0, 0, 0, 1),
    "camt054/postfinance-es-2016-v04.xml": (1, 1, 0, 0, 0, 1),
    "camt054/postfinance-esr-v04.xml": (1, 0, 1, 0, 0, 1),
    "camt054/postfinance-return-batch-v04.xml": (1, 1, 0, 1, 0, 1),
    "camt054/postfinance-return-single-v08.xml": (1, 1, 0, 1, 0, 1),
    "camt054/subite-lt-v10.xml": (1, 1, 0, 0, 1, 1),
    "camt054/viafintech-v04.xml": (4, 2, 2, 2, 0, 1),
    "cfonb120/akretion-lcl.cfo": (4, 1, 3, 0, 0, 1),
    "cfonb120/oca-classic.cfo": (13, 9, 4, 0, 0, 1),
    "cfonb120/oca-no-carriage-return.cfo": (13, 9, 4, 0, 0, 1),
    "cfonb120/pennylane-example.txt": (6, 1, 5, 0, 0, 2),
    "cfonb120/silarhi-complex.txt": (5, 0, 5, 0, 0, 2),
    "cfonb120/silarhi-simple.txt": (0, 0, 0, 0, 0, 0),
    "cfonb120/silarhi-unused-parts.txt": (0, 0, 0, 0, 0, 0),
    "derived/kedder-raiffeisen-ch-v04.iban-restored.xml": (16, 1, 15, 0, 0, 1),
    "derived/pennylane-example.no-blank-lines.txt": (6, 1, 5, 0, 0, 2),
    "derived/silarhi-complex.no-blank-lines.txt": (5, 0, 5, 0, 0, 2),
    "camt053/kedder-raiffeisen-ch-v04.xml": (  # the publisher masked the IBAN (derived/ restores one)
        "Stmt STM-C053-170412091216-01: the account IBAN 'CHxxxxxxxxxxxxxxxxxxx' is not a valid IBAN (masked?)"
    ),
    "camt053/viafintech-batch-v02.xml": (  # a placeholder IBAN with a wrong check sum
        "Stmt 2019062434566666666666666: the account IBAN 'NL18INGB00012345678' is not a valid IBAN (masked?)"
    ),
    "camt053/viafintech-v08.xml": (  # a placeholder IBAN
        "Stmt R30B4SA880HMZ9XA: the account IBAN 'CH1111111111111111111' is not a valid IBAN (masked?)"
    ),
    "camt054/postfinance-libeufin-v08.xml": "Ntfctn ?, entry 2: no amount",  # trimmed: Amt is mandatory
}


def read(path: Path) -> Statement:
    data = path.read_bytes()
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return parse_camt(data, account=GIVEN_ACCOUNT)
    return parse_cfonb(data.decode("latin-1"))


def files() -> list[str]:
    return sorted(str(p.relative_to(REAL)) for p in REAL.glob("*/*") if p.is_file()) if REAL.is_dir() else []


def test_every_real_file_is_in_the_table():
    assert files() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_real_file_reads_as_expected(name):
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(StatementRefused) as refused:
            read(REAL / name)
        assert str(refused.value) == expected
        return
    entries = read(REAL / name).entries
    assert (
        len(entries),
        sum(e.credit for e in entries),
        sum(not e.credit for e in entries),
        sum(e.is_return or e.comes_back_to_us for e in entries),
        sum(not e.booked for e in entries),
        len({e.account for e in entries}),
    ) == expected
    keys = [(e.account, e.reference) for e in entries]
    assert len(set(keys)) == len(keys), "two distinct entries share a key"


def test_one_movement_in_two_real_files_has_one_key_and_one_fingerprint():
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    where: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, expected in EXPECTED.items():
        if isinstance(expected, tuple):
            for e in read(REAL / name).entries:
                seen[(e.account, e.reference)].add(e.fingerprint)
                where[(e.account, e.reference)].add(name)
    shared = {k: sorted(v) for k, v in where.items() if len(v) > 1}
    assert all(len(seen[k]) == 1 for k in shared)
    pairs = {tuple(v) for v in shared.values()}
    assert {
        ("camt053/postfinance-2016-v04.xml", "camt054/postfinance-es-2016-v04.xml"),  # a statement and its 054
        ("camt053/postfinance-2016-v04.xml", "camt054/viafintech-v04.xml"),
        ("camt053/postfinance-testbench-v04.xml", "camt053/postfinance-testbench-v08.xml"),  # two schema versions
        ("cfonb120/oca-classic.cfo", "cfonb120/oca-no-carriage-return.cfo"),  # two layouts
        ("cfonb120/pennylane-example.txt", "derived/pennylane-example.no-blank-lines.txt"),
    } <= pairs


def test_the_real_cfonb_statement_loses_none_of_its_nine_credits():
    credits = [e for e in read(REAL / "cfonb120/oca-classic.cfo").entries if e.credit]
    assert len(credits) == len({e.reference for e in credits}) == 9
    assert sum(e.amount for e in credits) == Decimal("17968.57")  # the old key kept 1,040.17 of it
    payers = [e.transactions[0].debtor_name for e in credits]
    assert "AKRETION FRANCE" not in payers and payers[0] == "MA JOLIE BOUTIQUE"  # NBE is the account holder
