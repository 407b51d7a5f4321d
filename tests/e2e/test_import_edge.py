"""Import files at the edge: every hostile or sloppy input is refused by line with its reason, the good rows
are kept, and the command never prints a traceback (issue: the public edge)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from starter.importer import REQUIRED_CSV, ImportFileError, parse_file
from tests.builders import ROOT

COLUMNS = [*REQUIRED_CSV, "currency"]
GOOD = {
    "invoice_id": "E-1",
    "customer_id": "C-1",
    "customer_name": "Dupont SA",
    "customer_kind": "business",
    "customer_email": "compta@dupont.example",
    "address_line1": "1 rue X",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
    "amount": "1250.50",
    "currency": "EUR",
    "issue_date": "2026-04-01",
    "due_date": "2026-04-30",
}


def csv_text(*rows: dict[str, str]) -> str:
    lines = [";".join(COLUMNS)]
    lines += [";".join(row.get(c, GOOD[c]) for c in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def json_case(**changes: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "invoice_id": "J-1",
        "customer": {
            "id": "C-1",
            "name": "Dupont SA",
            "kind": "business",
            "email": "compta@dupont.example",
            "address": {"line1": "1 rue X", "postal_code": "75001", "city": "Paris", "country": "FR"},
        },
        "amount": "1250.50",
        "issue_date": "2026-04-01",
        "due_date": "2026-04-30",
    }
    case.update(changes)
    return case


def read(tmp_path: Path, name: str, data: bytes | str, **options: object):
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return parse_file(path, **options)  # type: ignore[arg-type]


# A bad row between two good ones: the bad one is reported on its line with this reason, the others kept.
BAD_CELLS = [
    ({"amount": "1e400"}, "amount: '1e400' is not an amount"),
    ({"amount": "1e15"}, "amount: '1e15' is not an amount"),
    ({"amount": "1000000000000000"}, "amount: '1000000000000000' is not an amount"),
    ({"amount": "99999999999"}, "amount: must be at most 9999999999.99, got 99999999999"),
    ({"amount": "1_000"}, "amount: '1_000' is not an amount"),
    ({"amount": "١٠٠٠"}, "amount: '١٠٠٠' is not an amount"),
    ({"amount": "NaN"}, "amount: 'NaN' is not an amount"),
    ({"amount": "-12.00"}, "amount: must be greater than 0, got -12.00"),
    ({"currency": "XXX"}, "currency: unknown currency 'XXX'"),
    ({"currency": "XAU"}, "currency: unknown currency 'XAU'"),
    ({"currency": "FRF"}, "currency: unknown currency 'FRF'"),
    ({"country": "ZZ"}, "customer.address.country: unknown country 'ZZ'"),
    ({"issue_date": "0001-01-01"}, "issue_date: 0001-01-01 is outside the accepted range 1990-01-01 to 2100-12-31"),
    ({"due_date": "9999-12-31"}, "due_date: 9999-12-31 is outside the accepted range 1990-01-01 to 2100-12-31"),
    ({"due_date": "9998-01-01"}, "due_date: 9998-01-01 is outside the accepted range"),
    ({"due_date": "2026-03-01"}, "due_date 2026-03-01 is before issue_date 2026-04-01"),
    ({"customer_name": "N" * 100_000}, "customer.name: String should have at most 200 characters"),
    ({"customer_id": "C" * 5_000}, "customer.id: String should have at most 100 characters"),
    ({"invoice_id": "E-\x1b[31mRED"}, "invoice_id: contains the control character U+001B at position 3"),
    ({"invoice_id": "E-\u202eFDP"}, "invoice_id: contains the control character U+202E at position 3"),
    ({"customer_name": "Dupont\x07SA"}, "customer.name: contains the control character U+0007 at position 7"),
    ({"customer_name": "Dupont\u200bSA"}, "customer.name: contains the control character U+200B at position 7"),
    ({"city": "Pa\x00ris"}, "customer.address.city: contains the control character U+0000 at position 3"),
    ({"customer_email": "not-an-email"}, "customer.email: value is not a valid email address"),
]


@pytest.mark.parametrize(("cells", "reason"), BAD_CELLS, ids=[r for _, r in BAD_CELLS])
def test_a_bad_cell_is_refused_on_its_line_and_the_other_rows_are_kept(tmp_path, cells, reason):
    parsed = read(
        tmp_path, "f.csv", csv_text(GOOD, {**GOOD, "invoice_id": "E-2", **cells}, {**GOOD, "invoice_id": "E-3"})
    )
    assert [c.invoice_id for _, c in parsed.cases()] == ["E-1", "E-3"]
    assert [(e.line, e.reason.startswith(reason)) for e in parsed.errors] == [(3, True)], parsed.errors


def test_a_cell_over_the_csv_modules_field_limit_is_one_bad_row(tmp_path):
    huge = "x" * 200_000  # the csv module refuses cells over 131,072 characters by default
    parsed = read(tmp_path, "f.csv", csv_text(GOOD, {**GOOD, "invoice_id": "E-2", "address_line1": huge}))
    assert [c.invoice_id for _, c in parsed.cases()] == ["E-1"]
    assert [str(e) for e in parsed.errors] == [
        "line 3 (E-2): customer.address.line1: String should have at most 200 characters"
    ]


def test_metadata_over_its_size_limit_is_refused_before_it_reaches_temporal(tmp_path):
    big = json.dumps({"note": "x" * 2_500_000})  # 2.5 MB: past Temporal's blob limit as a start argument
    text = csv_text(GOOD).rstrip("\n") + ";\n"
    header, row = text.splitlines()
    lines = [header + ";metadata", row.rstrip(";") + ';"' + big.replace('"', '""') + '"']
    lines.append(row.rstrip(";").replace("E-1", "E-2") + ';"{""po"": ""77""}"')
    parsed = read(tmp_path, "m.csv", "\n".join(lines) + "\n")
    assert [(c.invoice_id, c.metadata) for _, c in parsed.cases()] == [("E-2", {"po": "77"})]
    assert [str(e) for e in parsed.errors] == ["line 2 (E-1): metadata: is 2,500,011 bytes as JSON; at most 8,192"]


def test_deep_metadata_is_refused(tmp_path):
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    parsed = read(tmp_path, "d.json", json.dumps([json_case(metadata=deep), json_case(invoice_id="J-2")]))
    assert [c.invoice_id for _, c in parsed.cases()] == ["J-2"]
    assert [str(e) for e in parsed.errors] == ["line 1, invoice 1 (J-1): metadata: nested 5 levels deep; at most 4"]


ENCODINGS = [
    ("utf-8", lambda t: t.encode("utf-8"), "utf-8"),
    ("utf-8 with BOM", lambda t: t.encode("utf-8-sig"), "utf-8-sig"),
    ("utf-16 with BOM", lambda t: t.encode("utf-16"), "utf-16"),
    ("utf-16-le without BOM", lambda t: t.encode("utf-16-le"), "utf-16-le"),
    ("windows-1252", lambda t: t.encode("cp1252"), "cp1252"),
    ("latin-1", lambda t: t.encode("latin-1"), "cp1252"),  # the same bytes for these letters
]


@pytest.mark.parametrize(("label", "encode", "detected"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_the_encoding_of_an_export_is_detected(tmp_path, label, encode, detected):
    text = csv_text({**GOOD, "customer_name": "Épicerie Générale", "city": "Évreux"})
    parsed = read(tmp_path, "e.csv", encode(text))
    assert parsed.encoding == detected
    assert parsed.errors == []
    customer = next(parsed.cases())[1].customer
    assert (customer.name, customer.address.city) == ("Épicerie Générale", "Évreux")


def test_a_given_encoding_is_used_and_a_wrong_one_is_named(tmp_path):
    text = csv_text({**GOOD, "customer_name": "Épicerie"})
    parsed = read(tmp_path, "a.csv", text.encode("cp1252"), encoding="cp1252")
    assert next(parsed.cases())[1].customer.name == "Épicerie"
    with pytest.raises(ImportFileError, match=r"the file is not utf-8: byte 0xC9 on line 2 \(give --encoding\)"):
        read(tmp_path, "b.csv", text.encode("cp1252"), encoding="utf-8")
    with pytest.raises(ImportFileError, match="unknown encoding 'klingon'"):
        read(tmp_path, "c.csv", text, encoding="klingon")


def test_a_binary_file_is_refused_as_a_whole(tmp_path):
    with pytest.raises(ImportFileError, match="the file is binary, not a CSV or JSON text file"):
        read(tmp_path, "x.csv", bytes(range(256)) * 20)
    with pytest.raises(ImportFileError, match="the file is binary"):
        read(tmp_path, "x.json", b"\x89PNG\r\n\x1a\n" + bytes(range(32)) * 10)


def test_json_nested_200000_deep_is_refused_as_a_file_error(tmp_path):
    with pytest.raises(ImportFileError, match="nested too deeply"):
        read(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)


def test_json_amounts_must_be_decimal_strings(tmp_path):
    parsed = read(tmp_path, "f.json", json.dumps([json_case(amount=1250.5), json_case(invoice_id="J-2", amount=1250)]))
    assert list(parsed.cases()) == []
    assert [str(e) for e in parsed.errors] == [
        'line 1, invoice 1 (J-1): amount: amounts are decimal strings such as "1250.00", not the JSON number 1250.5',
        'line 1, invoice 2 (J-2): amount: amounts are decimal strings such as "1250.00", not the JSON number 1250',
    ]


def test_a_duplicated_invoice_is_reported_on_its_second_line(tmp_path):
    cases = [json_case(), json_case(invoice_id="J-2"), json_case(amount="10.00")]
    parsed = read(tmp_path, "dup.json", json.dumps(cases, indent=1))
    assert [c.invoice_id for _, c in parsed.cases()] == ["J-1", "J-2"]
    assert [str(e) for e in parsed.errors] == [
        f"line {parsed.errors[0].line}, invoice 3 (J-1): invoice_id J-1 repeats line 2; this row is left out"
    ]
    assert parsed.errors[0].line > list(parsed.cases())[1][0]
    parsed = read(tmp_path, "dup.csv", csv_text(GOOD, {**GOOD, "invoice_id": "E-2"}, {**GOOD, "amount": "5.00"}))
    assert [str(e) for e in parsed.errors] == ["line 4 (E-1): invoice_id E-1 repeats line 2; this row is left out"]


def test_a_duplicated_key_in_a_json_invoice_is_refused(tmp_path):
    text = '[{"invoice_id": "J-1", "amount": "1.00", "amount": "1000.00"}]'
    parsed = read(tmp_path, "k.json", text)
    assert [str(e) for e in parsed.errors] == ["line 1, invoice 1: key 'amount' appears twice in one object"]


def test_an_unbalanced_quote_is_reported_where_it_opens_and_the_rows_after_it_are_read(tmp_path):
    text = csv_text(GOOD, {**GOOD, "invoice_id": "E-2"}).splitlines()
    text.insert(2, text[1].replace("E-1", "E-9").replace("Dupont SA", '"Dupont SA'))  # line 3 opens a quote
    parsed = read(tmp_path, "q.csv", "\n".join(text) + "\n")
    assert [c.invoice_id for _, c in parsed.cases()] == ["E-1", "E-2"]  # E-2 was swallowed, then lost
    assert [str(e) for e in parsed.errors] == [
        "line 3: a quoted cell opens on this line and is never closed (unbalanced quote)"
    ]


def test_a_quote_that_closes_rows_later_is_reported_and_the_rows_it_swallowed_are_read(tmp_path):
    text = csv_text(GOOD, {**GOOD, "invoice_id": "E-2"}, {**GOOD, "invoice_id": "E-3"}).splitlines()
    text[1] = text[1].replace("Dupont SA", '"Dupont SA')  # opens on line 2 ...
    text[2] = text[2].replace("Dupont SA", 'Dupont SA"')  # ... and closes on line 3, in the wrong cell
    parsed = read(tmp_path, "q2.csv", "\n".join(text) + "\n")
    # line 3 is read again as the row it is (its stray closing quote is a character of the name)
    assert [(line, c.invoice_id) for line, c in parsed.cases()] == [(3, "E-2"), (4, "E-3")]
    assert [str(e) for e in parsed.errors] == [
        "line 2: a quoted cell runs from line 2 to 3, over rows of their own (unbalanced quote?)"
    ]


def test_a_quoted_cell_may_hold_a_line_break_and_the_contract_judges_it(tmp_path):
    rows = csv_text(GOOD, {**GOOD, "invoice_id": "E-2"}).splitlines()
    rows[1] = rows[1].replace("Dupont SA", '"Dupont SA\nService comptable"')  # valid CSV: one row, two lines
    parsed = read(tmp_path, "m.csv", "\n".join(rows) + "\n")
    assert [(line, c.invoice_id) for line, c in parsed.cases()] == [(4, "E-2")]
    # read as the one row it is; a name may not hold a line break, which the contract says, not "bad CSV"
    (refused,) = parsed.errors
    assert str(refused).startswith("line 2 (E-1): customer.name: contains the control character U+000A")


def test_a_stray_quote_is_one_bad_row(tmp_path):
    rows = csv_text(GOOD, {**GOOD, "invoice_id": "E-2"}, {**GOOD, "invoice_id": "E-3"}).splitlines()
    rows[2] = rows[2].replace("Dupont SA", '"Dupont" SA')
    parsed = read(tmp_path, "s.csv", "\n".join(rows) + "\n")
    assert [c.invoice_id for _, c in parsed.cases()] == ["E-1", "E-3"]
    assert [str(e) for e in parsed.errors] == ["line 3: not valid CSV: ';' expected after '\"'"]


def test_a_row_may_not_bring_its_own_clock(tmp_path):
    parsed = read(tmp_path, "c.json", json.dumps([json_case(clock={"seconds_per_day": 0.5})]))
    assert [str(e) for e in parsed.errors] == [
        "line 1, invoice 1 (J-1): clock: a demo clock cannot come with an invoice "
        "(relance import --seconds-per-day, demo workers only)"
    ]


def relance_import(tmp_path: Path, path: Path, *options: str, demo: bool = False) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": "127.0.0.1:1",  # nothing listens: every row here is refused before any start
        "RELANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'relance.db'}",
        "RELANCE_POLICY_DIR": str(ROOT / "policies"),
        "COLUMNS": "200",
        "RELANCE_DEMO_MODE": "1" if demo else "",
    }
    return subprocess.run(
        [sys.executable, "-m", "relance.cli.main", "import", str(path), *options],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_reports_every_bad_row_and_prints_no_traceback(tmp_path):
    rows = [{**GOOD, "invoice_id": f"E-{n}", **cells} for n, (cells, _) in enumerate(BAD_CELLS, start=1)]
    path = tmp_path / "all-bad.csv"
    path.write_text(csv_text(*rows), encoding="utf-8")
    result = relance_import(tmp_path, path)
    assert (result.returncode, "Traceback" in result.stderr) == (1, False), result.stderr
    assert result.stderr.count("rejected line") == len(BAD_CELLS)
    assert "started 0, already existing 0 (left unchanged), rejected 24" in result.stdout
    for broken in ("binary.csv", "deep.json"):
        path = tmp_path / broken
        path.write_bytes(bytes(range(256)) * 4 if broken == "binary.csv" else b"[" * 200_000 + b"]" * 200_000)
        result = relance_import(tmp_path, path)
        assert (result.returncode, "Traceback" in result.stderr) == (1, False), result.stderr
        assert result.stderr.startswith("error: nothing imported: ")


def test_a_demo_clock_needs_a_worker_in_demo_mode(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(csv_text(GOOD), encoding="utf-8")
    result = relance_import(tmp_path, path, "--seconds-per-day", "0.5")
    assert result.returncode == 1
    assert "--seconds-per-day is a demo feature; set RELANCE_DEMO_MODE=1" in result.stderr


# ---- reading in chunks: a large file is never held whole ----------------------------------------------


def test_rows_read_in_small_chunks_are_the_rows_of_the_file(tmp_path, monkeypatch):
    """Chunks of 7 bytes cut every row, every accented character and the bad byte: rows, lines and the place
    of a byte that is not UTF-8 come out as from a file read whole."""
    import starter.import_files as import_files

    rows = [{**GOOD, "invoice_id": f"E-{n}", "customer_name": f"Société n°{n}"} for n in range(1, 40)]
    rows[20]["amount"] = "oops"
    text = csv_text(*rows)
    whole = read(tmp_path, "w.csv", text)
    expected = [(line, c.invoice_id, c.customer.name) for line, c in whole.cases()]
    monkeypatch.setattr(import_files, "CHUNK_BYTES", 7)
    chunked = read(tmp_path, "c.csv", text)
    assert [(line, c.invoice_id, c.customer.name) for line, c in chunked.cases()] == expected
    assert expected[-1] == (40, "E-39", "Société n°39")
    assert (chunked.count, [str(e) for e in chunked.errors]) == (38, [str(e) for e in whole.errors])
    assert str(whole.errors[0]).startswith("line 22 (E-21): amount: 'oops' is not an amount")
    broken = text.encode("utf-8").replace("n°33".encode(), b"n\xb033")
    with pytest.raises(ImportFileError, match=r"the file is not utf-8: byte 0xB0 on line 34 \(give --encoding\)"):
        read(tmp_path, "b.csv", broken, encoding="utf-8")
    assert read(tmp_path, "d.csv", broken).encoding == "cp1252"


def test_a_file_changed_between_its_check_and_its_starts_starts_nothing_more(tmp_path):
    parsed = read(tmp_path, "f.csv", csv_text(GOOD, {**GOOD, "invoice_id": "E-2"}))
    (tmp_path / "f.csv").write_text(csv_text(GOOD, {**GOOD, "invoice_id": "E-2", "amount": "9999.00"}))
    with pytest.raises(ImportFileError, match=r"f\.csv changed while it was imported; nothing more is started"):
        next(parsed.cases())
