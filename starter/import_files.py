"""Reading an invoice file into raw rows, each with the line it starts on, whatever the file holds.

French accounting software exports Windows-1252 as often as UTF-8, spreadsheets save UTF-16, and a
hand-edited file can hold anything: the encoding is detected (or given), a row that cannot be read is
reported on its own line and the reading goes on, and only a file that is not text at all, or whose
header or structure is unusable, stops the import as a whole.
"""

import codecs
import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MAX_FILE_BYTES = 64 * 1024 * 1024  # larger exports are split: every row is held in memory at once
SUPPORTED_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1")
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, format, header); nothing was started."""


@dataclass(frozen=True)
class RawRow:
    """One row as read: its fields, or why it could not be read."""

    line: int
    fields: dict[str, Any] | None = None
    problem: str | None = None
    item: int | None = None  # JSON: the invoice's place in the list (a one-line document has one line)


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding it was read with (given, else detected)."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"the file is {len(data):,} bytes; split it in files of at most {MAX_FILE_BYTES:,}")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFileError(
                f"unknown encoding {encoding!r}; use one of {', '.join(SUPPORTED_ENCODINGS)}"
            ) from None
        try:
            return _text(data.decode(encoding)), encoding
        except UnicodeDecodeError as err:
            raise ImportFileError(f"the file is not {encoding}: {_where(data, err)}") from None
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                return _text(data.decode(name)), name
            except UnicodeDecodeError as err:
                raise ImportFileError(f"the file starts like {name} but is not: {_where(data, err)}") from None
    if b"\x00" in data[:4096]:
        for name in ("utf-16-le", "utf-16-be"):  # UTF-16 without BOM: every other byte of ASCII text is NUL
            half = data[:4096][1::2] if name == "utf-16-le" else data[:4096][::2]
            if data and half.count(0) > len(half) * 0.9:
                try:
                    return _text(data.decode(name)), name
                except UnicodeDecodeError:
                    break
    try:
        return _text(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8: a Windows export. cp1252 leaves five bytes undefined, which Latin-1 reads.
    try:
        return _text(data.decode("cp1252")), "cp1252"
    except UnicodeDecodeError:
        return _text(data.decode("latin-1")), "latin-1"


def _text(text: str) -> str:
    """A text file may hold a few stray control characters (its rows are refused one by one); not many."""
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(8, len(sample) // 100):
        raise ImportFileError("the file is binary, not a CSV or JSON text file")
    return text


def _where(data: bytes, err: UnicodeDecodeError) -> str:
    line = data[: err.start].count(b"\n") + 1
    return f"byte 0x{data[err.start]:02X} on line {line} (give --encoding)"


# ---- CSV ------------------------------------------------------------------------------------------------


@contextmanager
def _cells_as_long_as(size: int) -> Iterator[None]:
    """The csv module refuses cells over 128 KiB; ours are checked by the contract, with a clearer reason."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, size + 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def csv_rows(text: str) -> tuple[list[str], list[RawRow]]:
    """The header and every data row, each named by the line it starts on (a quoted cell may span lines)."""
    # Lines end at "\n" only: str.splitlines() would also break at characters such as U+0085 or U+001E
    # inside a cell, and every line number after it would be wrong.
    lines = [line + "\n" for line in text.split("\n")]
    if lines[-1] == "\n":
        lines.pop()
    first = lines[0] if lines else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows: list[RawRow] = []
    with _cells_as_long_as(len(text)):
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            header = [cell.strip().lstrip("\ufeff") for cell in next(reader)]
        except StopIteration:
            raise ImportFileError("the file is empty") from None
        except csv.Error as err:
            raise ImportFileError(f"line 1: the header cannot be read: {err}") from None
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                rows.append(RawRow(start, problem=_csv_problem(err, start, reader.line_num)))
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if reader.line_num > start:
                end = reader.line_num
                rows.append(RawRow(start, problem=f"a quoted cell runs from line {start} to {end} (unbalanced quote?)"))
                continue
            if len(cells) != len(header):
                rows.append(RawRow(start, problem=f"{len(cells)} cells for {len(header)} columns"))
                continue
            rows.append(RawRow(start, fields=dict(zip(header, cells, strict=True))))
    return header, rows


def _csv_problem(err: csv.Error, start: int, end: int) -> str:
    if "unexpected end of data" in str(err):
        return "a quoted cell opens on this line and is never closed (unbalanced quote)"
    return f"not valid CSV: {err}" + (f" (row runs to line {end})" if end > start else "")


# ---- JSON -----------------------------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(f"key {key[:60]!r} appears twice in one object")
        seen[key] = value
    return seen


DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def json_rows(text: str) -> list[RawRow]:
    """Each invoice of a JSON list (or of an object's "invoices" list), with the line its object starts on."""
    body = text.lstrip("\ufeff")
    try:
        json.loads(body)  # the document as a whole first: a broken file stops here, with its line
    except json.JSONDecodeError as err:
        raise ImportFileError(f"not valid JSON at line {err.lineno}: {err.msg}") from None
    except RecursionError:
        raise ImportFileError("the JSON document is nested too deeply") from None
    position = _skip(body, 0)
    if body[position] == "{":
        position = _invoices_list(body, position)
    if body[position] != "[":
        raise ImportFileError("JSON must be a list of invoices, or an object with an 'invoices' list")
    return list(_items(body, position))


def _items(body: str, position: int) -> Iterator[RawRow]:
    position = _skip(body, position + 1)
    number, line, counted = 0, 1, 0
    while body[position] != "]":
        number += 1
        line += body.count("\n", counted, position)  # from the previous item on: a long file stays linear
        counted = position
        try:
            item, position = DECODER.raw_decode(body, position)
        except _DuplicateKey as err:
            item, position = json.JSONDecoder().raw_decode(body, position)
            yield RawRow(line, problem=str(err), item=number)
        except RecursionError:
            raise ImportFileError(f"line {line}: invoice {number} is nested too deeply") from None
        else:
            if isinstance(item, dict):
                yield RawRow(line, fields=item, item=number)
            else:
                kind = type(item).__name__
                yield RawRow(line, problem=f"an invoice must be a JSON object, got {kind}", item=number)
        position = _skip(body, position)
        if body[position] == ",":
            position = _skip(body, position + 1)


def _invoices_list(body: str, position: int) -> int:
    """Where the value of the top-level object's "invoices" key starts."""
    position = _skip(body, position + 1)
    while body[position] != "}":
        key, position = json.JSONDecoder().raw_decode(body, position)
        position = _skip(body, _skip(body, position) + 1)  # past the colon
        if key == "invoices":
            return position
        _, position = json.JSONDecoder().raw_decode(body, position)
        position = _skip(body, position)
        if body[position] == ",":
            position = _skip(body, position + 1)
    raise ImportFileError("JSON must be a list of invoices, or an object with an 'invoices' list")


def _skip(body: str, position: int) -> int:
    while position < len(body) and body[position] in " \t\r\n":
        position += 1
    if position >= len(body):
        raise ImportFileError("JSON must be a list of invoices, or an object with an 'invoices' list")
    return position
