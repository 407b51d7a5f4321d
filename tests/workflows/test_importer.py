"""Reading invoice files: every bad row named by line and reason, the good ones kept."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from relance.domain.case import CaseState
from starter.importer import ImportFileError, parse_file, start_cases
from tests.builders import ROOT
from tests.conftest import Case, terminate_all

HEADER = (
    "invoice_id;customer_id;customer_name;customer_kind;customer_email;address_line1;postal_code;city;"
    "country;amount;issue_date;due_date"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_french_csv_with_semicolons_and_decimal_commas(tmp_path):
    path = write(
        tmp_path,
        "f.csv",
        HEADER + "\n"
        "A-1;C1;Dupont SA;business;a@d.example;1 rue X;75001;Paris;FR;1250,50;2026-04-01;2026-04-30\n"
        "A-2;C1;Dupont SA;business;a@d.example;1 rue X;75001;Paris;FR;1 250,50;2026-04-01;2026-04-30\n"
        "A-3;C1;Dupont SA;business;a@d.example;1 rue X;75001;Paris;FR;1,250.50;2026-04-01;2026-04-30\n",
    )
    parsed = parse_file(path)
    assert [(c.invoice_id, c.amount) for _, c in parsed.cases()] == [
        ("A-1", Decimal("1250.50")),
        ("A-2", Decimal("1250.50")),
    ]
    assert [str(e) for e in parsed.errors] == ["line 4: amount '1,250.50' mixes ',' and '.'; write it as 1250.50"]


ROW_ERRORS = [
    (
        "B-1;C1;X;business;a@d.example;1 rue X;75001;Paris;FR;10;2026-04-30;2026-04-01",
        "line 2 (B-1): due_date 2026-04-01 is before issue_date 2026-04-30",
    ),
    (
        "B-1;C1;X;company;a@d.example;1 rue X;75001;Paris;FR;10;2026-04-01;2026-04-30",
        "line 2 (B-1): customer.kind: Input should be 'business' or 'consumer'",
    ),
    (
        "B-1;C1;X;business;a@d.example;1 rue X;75001;Paris;France;10;2026-04-01;2026-04-30",
        "line 2 (B-1): customer.address.country: unknown country 'France': "
        "expected an ISO 3166 alpha-2 code, such as FR",
    ),
    (
        "B-1;C1;X;business;a@d.example;1 rue X;75001;Paris;FR;dix;2026-04-01;2026-04-30",
        "line 2 (B-1): amount: 'dix' is not an amount: write digits with an optional \".\" and up to 4 decimals",
    ),
    (
        "B-1;C1;X;business;a@d.example;1 rue X;75001;Paris;FR;10;2026-02-30;2026-04-30",
        "line 2 (B-1): issue_date: '2026-02-30' is not a date: day is out of range for month",
    ),
    (
        "B-1;C1;X;business;a@d.example;1 rue X;75001;Paris;FR;10;2026-04-01;2026-04-30;extra",
        "line 2: 13 cells for 12 columns",
    ),
    (
        "B 1;C1;X;business;a@d.example;1 rue X;75001;Paris;FR;10;2026-04-01;2026-04-30",
        "line 2 (B 1): invoice_id: String should match pattern '^[^\\s/]+$'",
    ),
]


@pytest.mark.parametrize(("row", "error"), ROW_ERRORS)
def test_a_bad_row_is_reported_with_line_and_reason(tmp_path, row, error):
    parsed = parse_file(write(tmp_path, "r.csv", HEADER + "\n" + row + "\n"))
    assert ([str(e) for e in parsed.errors], list(parsed.cases())) == ([error], [])


def test_header_problems_stop_the_whole_file(tmp_path):
    with pytest.raises(ImportFileError, match="CSV header lacks required columns: amount, due_date"):
        parse_file(write(tmp_path, "h.csv", HEADER.replace(";amount", "").replace(";due_date", "") + "\n"))
    with pytest.raises(ImportFileError, match="CSV header has unknown columns: colour"):
        parse_file(write(tmp_path, "u.csv", HEADER + ";colour\n"))
    with pytest.raises(ImportFileError, match=r"expected a \.csv or \.json file"):
        parse_file(write(tmp_path, "x.txt", "hello"))


def test_json_list_with_metadata_and_a_bad_item(tmp_path):
    good = {
        "invoice_id": "J-1",
        "customer": {
            "id": "C",
            "name": "N",
            "kind": "consumer",
            "email": "n@x.example",
            "address": {"line1": "l", "postal_code": "p", "city": "c", "country": "FR"},
        },
        "amount": "99.90",
        "issue_date": "2026-04-01",
        "due_date": "2026-04-30",
        "metadata": {"po": "77"},
    }
    bad = {**good, "invoice_id": "J-2", "amount": "99.999"}
    parsed = parse_file(write(tmp_path, "i.json", json.dumps({"invoices": [good, bad, "oops"]})))
    assert [(line, c.metadata) for line, c in parsed.cases()] == [(1, {"po": "77"})]
    assert [str(e) for e in parsed.errors] == [
        "line 1, invoice 2 (J-2): amount 99.999 has more than 2 decimals for EUR",
        "line 1, invoice 3: an invoice must be a JSON object, got str",
    ]
    # written one field a line, as exports usually are: each invoice is named by the line its object opens on
    parsed = parse_file(write(tmp_path, "p.json", json.dumps({"source": "erp", "invoices": [good, bad]}, indent=2)))
    assert [line for line, _ in parsed.cases()] == [4]
    assert [str(e) for e in parsed.errors] == [
        "line 25, invoice 2 (J-2): amount 99.999 has more than 2 decimals for EUR"
    ]
    with pytest.raises(ImportFileError, match="not valid JSON at line 1"):
        parse_file(write(tmp_path, "b.json", "{nope"))


async def test_importing_the_same_file_twice_starts_nothing_new(env, worker, tmp_path):
    from relance.domain.policy import load_policies

    sample = ROOT / "samples" / "invoices.csv"
    parsed = parse_file(sample, policies=load_policies(worker.policy_dir, worker.template_dir))
    first = await start_cases(env.client, parsed, worker.task_queue)
    second = await start_cases(env.client, parse_file(sample), worker.task_queue)
    cases = [Case(env, env.client.get_workflow_handle(f"invoice-{i}")) for i in first.started]
    try:
        assert (len(first.started), first.existing) == (8, [])
        assert (second.started, sorted(second.existing)) == ([], sorted(first.started))
    finally:
        for case in cases:
            await case.settled()
        await terminate_all(env.client, (case.handle for case in cases))


async def test_each_case_is_told_how_many_invoices_of_its_customer_its_file_brought(env, worker, tmp_path):
    """Two invoices of C1 and one of C2 (the refused row counts for nobody): C2's case knows it is its
    customer's only one, and may send its first e-mail at once instead of leaving it to the account."""
    path = write(
        tmp_path,
        "b.csv",
        HEADER + "\n"
        "N-1;C1;Dupont SA;business;a@d.example;1 rue X;75001;Paris;FR;100,00;2026-04-01;2026-04-30\n"
        "N-2;C2;Martin SARL;business;m@d.example;1 rue Y;75001;Paris;FR;200,00;2026-04-01;2026-04-30\n"
        "N-3;C2;Martin SARL;business;m@d.example;1 rue Y;75001;Paris;FR;2,00.0;2026-04-01;2026-04-30\n"
        "N-4;C1;Dupont SA;business;a@d.example;1 rue X;75001;Paris;FR;300,00;2026-04-01;2026-04-30\n",
    )
    parsed = parse_file(path)
    assert dict(parsed.per_customer) == {"C1": 2, "C2": 1}
    report = await start_cases(env.client, parsed, worker.task_queue)
    cases = [Case(env, env.client.get_workflow_handle(f"invoice-{i}")) for i in report.started]
    try:
        told = {}
        for case in cases:
            await case.settled()
            state = await case.handle.query("case_state", result_type=CaseState)
            told[state.case.invoice_id] = state.case.customer_invoices_in_batch
        assert told == {"N-1": 2, "N-2": 1, "N-4": 2}
    finally:
        await terminate_all(env.client, (case.handle for case in cases))
