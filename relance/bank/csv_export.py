"""A bank's CSV export, read through a small YAML mapping that names its columns (every bank has its own).

Example mapping (tests/fixtures/bank/csv-mapping.yaml):

    account: FR7630004000031234567890143
    delimiter: ";"
    encoding: cp1252
    date_format: "%d/%m/%Y"
    decimal_comma: true
    columns: {booking_date: Date, amount: Montant, remittance: Libellé, reference: Référence,
              debtor_name: Tiers, debtor_iban: IBAN}

`amount` is signed (positive: money in); a bank that prints two columns maps `credit` and `debit` instead.
One bad row refuses the whole file, naming its line: nothing is applied from a file half understood.
"""

import csv
import io
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from relance.bank.entries import BankEntry, Statement, StatementRefused, Transaction, stable_reference


class Columns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    booking_date: str
    remittance: str
    amount: str | None = None
    credit: str | None = None
    debit: str | None = None
    currency: str | None = None
    reference: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None

    @model_validator(mode="after")
    def _money(self) -> "Columns":
        if (self.amount is None) == (self.credit is None and self.debit is None):
            raise ValueError("map either amount (signed) or credit and debit")
        return self


class CsvMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=5)
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    encoding: str = "utf-8"
    date_format: str = "%d/%m/%Y"
    decimal_comma: bool = True
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    columns: Columns


def load_mapping(path: Path) -> CsvMapping:
    try:
        return CsvMapping.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise StatementRefused(f"the CSV mapping {path} is unusable: {exc}") from None


def parse_csv(data: bytes, mapping: CsvMapping) -> Statement:
    try:
        text = data.decode(mapping.encoding).lstrip("\ufeff")
    except (UnicodeDecodeError, LookupError) as exc:
        raise StatementRefused(f"the file is not {mapping.encoding}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text), delimiter=mapping.delimiter)
    wanted = [c for c in mapping.columns.model_dump().values() if c]
    missing = [c for c in wanted if c not in (reader.fieldnames or [])]
    if missing:
        raise StatementRefused(f"the CSV has no column {', '.join(repr(c) for c in missing)} (mapping)")
    entries = [_entry(row, reader.line_num, mapping) for row in reader if any((v or "").strip() for v in row.values())]
    return Statement("csv", f"{mapping.account}:{len(entries)}", mapping.account, entries)


def _entry(row: dict[str, str], line: int, mapping: CsvMapping) -> BankEntry:
    cols = mapping.columns

    def cell(name: str | None) -> str:
        return (row.get(name) or "").strip() if name else ""

    try:
        booking = datetime.strptime(cell(cols.booking_date), mapping.date_format).date()
    except ValueError:
        raise StatementRefused(
            f"line {line}: {cell(cols.booking_date)!r} is not a date {mapping.date_format}"
        ) from None
    amount = _money(cell(cols.amount), line, mapping) if cols.amount else (
        _money(cell(cols.credit), line, mapping) - _money(cell(cols.debit), line, mapping)
    )  # fmt: skip
    if amount == 0:
        raise StatementRefused(f"line {line}: an entry of no amount")
    remittance, name, iban = cell(cols.remittance), cell(cols.debtor_name) or None, _iban(cell(cols.debtor_iban))
    currency = cell(cols.currency) or mapping.currency
    reference = cell(cols.reference) or stable_reference(mapping.account, booking, amount, currency, remittance, name)
    return BankEntry(
        account=mapping.account,
        reference=reference,
        amount=abs(amount),
        currency=currency,
        credit=amount > 0,
        booked=True,
        booking_date=booking,
        value_date=None,
        transactions=[Transaction(amount=abs(amount), debtor_name=name, debtor_iban=iban, remittance=remittance)],
    )


def _money(text: str, line: int, mapping: CsvMapping) -> Decimal:
    if not text:
        return Decimal(0)
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if mapping.decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise StatementRefused(f"line {line}: {text!r} is not an amount") from None
    if not value.is_finite():
        raise StatementRefused(f"line {line}: {text!r} is not an amount")
    return value


def _iban(text: str) -> str | None:
    try:
        return IBAN(text).compact if text else None
    except SchwiftyException:
        return None
