"""Importing unpaid invoices: parse CSV or JSON rows into cases, then start one workflow per invoice.

A bad row is reported with its line and reason and the others still start; a case that already
exists (same invoice id, running or closed) is left as it is and reported.
"""

import asyncio
import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from relance.errors import explain
from relance.invoice import CaseInput, DemoClock
from relance.money import format_money
from relance.policy import NoPolicy, Policy, select_policy
from workflows import InvoiceCollection

CSV_COLUMNS = {
    "invoice_id": ("invoice_id",),
    "customer_id": ("customer", "id"),
    "customer_name": ("customer", "name"),
    "customer_kind": ("customer", "kind"),
    "customer_email": ("customer", "email"),
    "customer_language": ("customer", "language"),
    "customer_segment": ("customer", "segment"),
    "customer_phone": ("customer", "phone"),
    "address_line1": ("customer", "address", "line1"),
    "address_line2": ("customer", "address", "line2"),
    "postal_code": ("customer", "address", "postal_code"),
    "city": ("customer", "address", "city"),
    "country": ("customer", "address", "country"),
    "amount": ("amount",),
    "currency": ("currency",),
    "issue_date": ("issue_date",),
    "due_date": ("due_date",),
    "policy": ("policy",),
    "metadata": ("metadata",),
}
REQUIRED_CSV = [
    "invoice_id",
    "customer_id",
    "customer_name",
    "customer_kind",
    "customer_email",
    "address_line1",
    "postal_code",
    "city",
    "country",
    "amount",
    "issue_date",
    "due_date",
]


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, header); nothing was started."""


@dataclass(frozen=True)
class RowError:
    line: int
    invoice_id: str | None
    reason: str

    def __str__(self) -> str:
        who = f" ({self.invoice_id})" if self.invoice_id else ""
        return f"line {self.line}{who}: {self.reason}"


@dataclass
class ParsedFile:
    cases: list[tuple[int, CaseInput]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    started: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _amount(text: str) -> str:
    """Accept 1250.50 and the French 1250,50; refuse thousands separators, which are ambiguous."""
    cleaned = text.replace("\u00a0", "").replace(" ", "")
    if "," in cleaned and "." in cleaned:
        raise ValueError(f"amount {text!r} mixes ',' and '.'; write it as 1250.50")
    cleaned = cleaned.replace(",", ".")
    try:
        Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a number") from None
    return cleaned


def _nest(row: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column, raw in row.items():
        value = (raw or "").strip()
        if column not in CSV_COLUMNS or value == "":
            continue
        parsed: Any = value
        if column == "amount":
            parsed = _amount(value)
        elif column == "metadata":
            parsed = json.loads(value)
        target = data
        *parents, leaf = CSV_COLUMNS[column]
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = parsed
    return data


def _reason(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return explain(err)
    if isinstance(err, json.JSONDecodeError):
        return f"metadata is not valid JSON: {err.msg}"
    return str(err)


def _rows_from_csv(text: str) -> Iterable[tuple[int, dict[str, Any] | Exception]]:
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_CSV if c not in header]
    if missing:
        raise ImportFileError(f"CSV header lacks required columns: {', '.join(missing)}")
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ImportFileError(f"CSV header has unknown columns: {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})")
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, ValueError(f"{len(header) + len(row[None])} cells for {len(header)} columns")
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        try:
            yield line, _nest(row)
        except (ValueError, json.JSONDecodeError) as err:
            yield line, err


def _rows_from_json(text: str) -> Iterable[tuple[int, dict[str, Any] | Exception]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ImportFileError(f"not valid JSON at line {err.lineno}: {err.msg}") from err
    items = data.get("invoices") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ImportFileError("JSON must be a list of invoices, or an object with an 'invoices' list")
    for number, item in enumerate(items, start=1):
        yield number, item if isinstance(item, dict) else ValueError("an invoice must be a JSON object")


def parse_file(path: Path, *, clock: DemoClock | None = None) -> ParsedFile:
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _rows_from_csv(text)
    elif suffix == ".json":
        rows = _rows_from_json(text)
    else:
        raise ImportFileError(f"{path.name}: expected a .csv or .json file")
    parsed = ParsedFile()
    seen: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, Exception):
            parsed.errors.append(RowError(line, None, _reason(row)))
            continue
        invoice_id = row.get("invoice_id") if isinstance(row.get("invoice_id"), str) else None
        if clock is not None:
            row = {**row, "clock": clock.model_dump(mode="json")}
        try:
            case = CaseInput.model_validate(row)
        except ValidationError as err:
            parsed.errors.append(RowError(line, invoice_id, _reason(err)))
            continue
        if case.invoice_id in seen:
            parsed.errors.append(RowError(line, case.invoice_id, f"invoice_id repeats line {seen[case.invoice_id]}"))
            continue
        seen[case.invoice_id] = line
        parsed.cases.append((line, case))
    return parsed


def check_policies(parsed: ParsedFile, policies: dict[str, Policy]) -> None:
    """Refuse, row by row, the invoices no policy fits, before anything starts."""
    kept = []
    for line, case in parsed.cases:
        try:
            select_policy(policies, case)
        except NoPolicy as err:
            parsed.errors.append(RowError(line, case.invoice_id, str(err)))
            continue
        kept.append((line, case))
    parsed.cases = kept


def summary_for(case: CaseInput) -> str:
    return f"Invoice {case.invoice_id} · {case.customer.name} · {format_money(case.amount, case.currency, 'fr')}"


async def start_case(client: Client, case: CaseInput, task_queue: str) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        InvoiceCollection.run,
        args=[case, None],
        id=case.workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=summary_for(case),
    )


async def start_cases(
    client: Client,
    parsed: ParsedFile,
    task_queue: str,
    *,
    on_progress: Callable[[], None] | None = None,
    concurrency: int = 20,
) -> ImportReport:
    report = ImportReport(errors=list(parsed.errors))
    gate = asyncio.Semaphore(concurrency)

    async def one(case: CaseInput) -> None:
        async with gate:
            try:
                await start_case(client, case, task_queue)
                report.started.append(case.invoice_id)
            except WorkflowAlreadyStartedError:
                report.existing.append(case.invoice_id)
            if on_progress is not None:
                on_progress()

    await asyncio.gather(*(one(case) for _, case in parsed.cases))
    report.errors.sort(key=lambda e: e.line)
    return report
