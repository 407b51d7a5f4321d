"""Importing unpaid invoices: parse CSV or JSON rows into cases, then start one workflow per invoice.

A bad row is reported with its line and reason and the others still start; a case that already
exists (same invoice id, running or closed) is left as it is and reported. The file is read twice: once to
check every row (nothing starts before the whole file is known to be readable), then again to start the
good ones, so that a file of 100,000 invoices is never held in memory as cases.
"""

import asyncio
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from relance.domain.errors import explain
from relance.domain.invoice import CaseInput, DemoClock
from relance.domain.limits import bounded, printable
from relance.domain.money import format_money
from relance.domain.policy import NoPolicy, Policy, select_policy
from starter.import_files import ImportFileError, RawRow, csv_rows, detect_encoding, json_rows, read_text, text_lines
from workflows import InvoiceCollection

__all__ = [
    "ImportFileError", "ImportReport", "ParsedFile", "RowError", "RowProblem", "case_from_fields", "customer_counts",
    "in_batch", "parse_file", "start_cases", "start_or_find",
]  # fmt: skip

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


@dataclass(frozen=True)
class RowError:
    line: int
    invoice_id: str | None
    reason: str
    item: int | None = None  # JSON files: the invoice's place in the list

    def __str__(self) -> str:
        who = f" ({self.invoice_id})" if self.invoice_id else ""
        item = f", invoice {self.item}" if self.item is not None else ""
        return f"line {self.line}{item}{who}: {self.reason}"


@dataclass
class ParsedFile:
    """What the first reading found: every refused row, and how many rows will start; `cases()` reads the good
    rows again, one at a time."""

    path: Path
    encoding: str
    clock: DemoClock | None
    errors: list[RowError] = field(default_factory=list)
    count: int = 0  # rows that will start
    per_customer: Counter[str] = field(default_factory=Counter)  # of those, per customer (each case is told its)
    stamp: tuple[int, int] = (0, 0)  # the file's size and modification time when it was checked

    def cases(self) -> Iterator[tuple[int, CaseInput]]:
        """The rows the first reading kept, with their line, read and validated again."""
        if _stamp(self.path) != self.stamp:
            raise ImportFileError(f"{self.path.name} changed while it was imported; nothing more is started")
        refused = {(error.line, error.item) for error in self.errors}
        for row in _validated(self.path, self.encoding, self.clock):
            if isinstance(row, _Good) and (row.line, row.item) not in refused:
                yield row.line, row.case


@dataclass
class ImportReport:
    started: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


SPACES = str.maketrans("", "", " \u00a0\u202f")  # French exports group thousands with (no-break) spaces


def _amount(text: str) -> str:
    """Accept 1250.50, the French 1250,50 and 1 250,50; refuse 1,250.50, which is ambiguous."""
    cleaned = text.translate(SPACES)
    if "," in cleaned and "." in cleaned:
        raise ValueError(f"amount {bounded(text, 40)!r} mixes ',' and '.'; write it as 1250.50")
    return cleaned.replace(",", ".")


def _nest(row: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column, raw in row.items():
        value = raw.strip()
        if value == "":
            continue
        parsed: Any = value
        if column == "amount":
            parsed = _amount(value)
        elif column == "metadata":
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as err:
                raise ValueError(f"metadata is not valid JSON: {err.msg}") from None
            except RecursionError:
                raise ValueError("metadata is nested too deeply") from None
        target = data
        *parents, leaf = CSV_COLUMNS[column]
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = parsed
    return data


def _csv_fields(lines: Iterator[str], longest: int) -> Iterator[RawRow]:
    header, rows = csv_rows(lines, longest)
    missing = [c for c in REQUIRED_CSV if c not in header]
    if missing:
        raise ImportFileError(f"CSV header lacks required columns: {', '.join(missing)}")
    unknown = [bounded(c, 40) for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ImportFileError(f"CSV header has unknown columns: {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})")
    return _nested(rows)


def _nested(rows: Iterator[RawRow]) -> Iterator[RawRow]:
    for row in rows:
        if row.fields is None:
            yield row
            continue
        try:
            yield RawRow(row.line, fields=_nest(row.fields))
        except ValueError as err:
            yield RawRow(row.line, problem=str(err))


def parse_file(
    path: Path,
    *,
    clock: DemoClock | None = None,
    encoding: str | None = None,
    policies: dict[str, Policy] | None = None,
) -> ParsedFile:
    """Check every row of the file (and, given the policies, that one fits it): a file that is not usable raises;
    each bad row becomes an error naming its line. Only the errors and a count are kept."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ImportFileError(f"{path.name}: expected a .csv or .json file")
    try:
        stamp = _stamp(path)
        used = detect_encoding(path, encoding)
    except OSError as err:
        raise ImportFileError(f"{path.name} cannot be read: {err.strerror}") from None
    parsed = ParsedFile(path, used, clock, stamp=stamp)
    for row in _validated(path, used, clock):
        if isinstance(row, RowError):
            parsed.errors.append(row)
            continue
        if policies is not None:
            try:
                select_policy(policies, row.case)
            except NoPolicy as err:
                parsed.errors.append(RowError(row.line, row.case.invoice_id, str(err), row.item))
                continue
        parsed.count += 1
        parsed.per_customer[row.case.customer.id] += 1
    parsed.errors.sort(key=lambda e: (e.line, e.item or 0))
    return parsed


def customer_counts(cases: Iterable[CaseInput]) -> Counter[str]:
    return Counter(case.customer.id for case in cases)


def in_batch(case: CaseInput, counts: Mapping[str, int]) -> CaseInput:
    """The case told how many invoices of its customer came with it (`customer_invoices_in_batch`), unless its
    sender said so itself: a customer's only invoice need not wait an hour for others to group with."""
    if case.customer_invoices_in_batch is not None:
        return case
    return case.model_copy(update={"customer_invoices_in_batch": counts[case.customer.id]})


def _stamp(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


class RowProblem(ValueError):
    """Why one invoice's fields are not a case; names the invoice when its id could be read."""

    def __init__(self, reason: str, invoice_id: str | None) -> None:
        super().__init__(reason)
        self.invoice_id = invoice_id


def case_from_fields(fields: dict[str, Any], clock: DemoClock | None = None) -> CaseInput:
    """One invoice's fields as a case (a file's row, an HTTP body alike), or RowProblem saying what is wrong."""
    raw_id = fields.get("invoice_id")
    invoice_id = printable(raw_id, 60) if isinstance(raw_id, str) else None
    if "clock" in fields:
        reason = "clock: a demo clock cannot come with an invoice (relance import --seconds-per-day, demo workers only)"
        raise RowProblem(reason, invoice_id)
    if clock is not None:
        fields = {**fields, "clock": clock.model_dump(mode="json")}
    try:
        return CaseInput.model_validate(fields)
    except ValidationError as err:
        raise RowProblem(bounded(explain(err)), invoice_id) from None
    except RecursionError:
        raise RowProblem("the row is nested too deeply", invoice_id) from None


@dataclass(frozen=True)
class _Good:
    line: int
    item: int | None  # JSON files: the invoice's place in the list
    case: CaseInput


def _raw_rows(path: Path, encoding: str) -> Iterator[RawRow]:
    if path.suffix.lower() == ".json":
        return json_rows(read_text(path, encoding))
    return _csv_fields(text_lines(path, encoding), path.stat().st_size)


def _validated(path: Path, encoding: str, clock: DemoClock | None) -> Iterator[_Good | RowError]:
    """Each row as a case with its line, or as the error that refuses it; a repeated invoice id is refused."""
    seen: dict[str, int] = {}
    for row in _raw_rows(path, encoding):
        if row.fields is None:
            yield RowError(row.line, None, row.problem or "unreadable row", row.item)
            continue
        try:
            case = case_from_fields(row.fields, clock)
        except RowProblem as problem:
            yield RowError(row.line, problem.invoice_id, str(problem), row.item)
            continue
        if case.invoice_id in seen:
            reason = f"invoice_id {case.invoice_id} repeats line {seen[case.invoice_id]}; this row is left out"
            yield RowError(row.line, case.invoice_id, reason, row.item)
            continue
        seen[case.invoice_id] = row.line
        yield _Good(row.line, row.item, case)


def summary_for(case: CaseInput) -> str:
    return f"Invoice {case.invoice_id} · {case.customer.name} · {format_money(case.amount, case.currency, 'fr')}"


async def start_case(
    client: Client, case: CaseInput, task_queue: str, *, by: str | None = None
) -> WorkflowHandle[Any, Any]:
    """Start the case's workflow; `by` (who sent it: a person, `api:<token name>`) is kept in its memo."""
    return await client.start_workflow(
        InvoiceCollection.run,
        case,
        id=case.workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=summary_for(case),
        memo={"created_by": by} if by else None,
    )


async def start_or_find(client: Client, case: CaseInput, task_queue: str, *, by: str | None = None) -> bool:
    """Start the case; False when it already exists (running or closed), which is left as it is."""
    try:
        await start_case(client, case, task_queue, by=by)
    except WorkflowAlreadyStartedError:
        return False
    return True


async def start_cases(
    client: Client,
    parsed: ParsedFile,
    task_queue: str,
    *,
    on_progress: Callable[[], None] | None = None,
    concurrency: int = 20,
    by: str | None = None,
) -> ImportReport:
    """Start the good rows, `concurrency` at a time, reading them as they go (the file is not held)."""
    report = ImportReport(errors=list(parsed.errors))
    in_flight: set[asyncio.Task[None]] = set()

    async def one(line: int, case: CaseInput) -> None:
        try:
            started = await start_or_find(client, case, task_queue, by=by)
            (report.started if started else report.existing).append(case.invoice_id)
        except RPCError as err:  # the server refused this one start; the others go on
            report.errors.append(RowError(line, case.invoice_id, f"not started: {bounded(err.message)}"))
        if on_progress is not None:
            on_progress()

    async def settle(when: str) -> set[asyncio.Task[None]]:
        done, pending = await asyncio.wait(in_flight, return_when=when)
        for task in done:
            task.result()  # anything but a refused start is a bug: let it surface
        return pending

    try:
        for line, case in parsed.cases():
            if len(in_flight) >= concurrency:
                in_flight = await settle(asyncio.FIRST_COMPLETED)
            in_flight.add(asyncio.create_task(one(line, in_batch(case, parsed.per_customer))))
        if in_flight:
            in_flight = await settle(asyncio.ALL_COMPLETED)
    finally:
        for task in in_flight:
            task.cancel()
    report.errors.sort(key=lambda e: (e.line, e.item or 0))
    return report
