"""Reading an invoice file into raw rows, each with the line it starts on, whatever the file holds.

French accounting software exports Windows-1252 as often as UTF-8, spreadsheets save UTF-16, and a
hand-edited file can hold anything: the encoding is detected (or given), a row that cannot be read is
reported on its own line and the reading goes on, and only a file that is not text at all, or whose
header or structure is unusable, stops the import as a whole.
"""

import codecs
import collections
import csv
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 64 * 1024 * 1024  # larger exports are split (a CSV file is streamed; a JSON one is held whole)
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


CHUNK_BYTES = 1 << 20


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The encoding the file is read with (given, else detected), checked over the whole file a chunk at a time.

    Only UTF-16 files are decoded whole (rare, and their newlines are two bytes wide); every other file is
    read twice in bounded memory, once to check and once per pass of the import.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportFileError(f"the file is {size:,} bytes; split it in files of at most {MAX_FILE_BYTES:,}")
    with path.open("rb") as stream:
        head = stream.read(4096)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFileError(
                f"unknown encoding {encoding!r}; use one of {', '.join(SUPPORTED_ENCODINGS)}"
            ) from None
        problem = _undecodable(path, encoding)
        if problem:
            raise ImportFileError(f"the file is not {encoding}: {problem}")
        return _textual(path, encoding)
    for bom, name in BOMS:
        if head.startswith(bom):
            problem = _undecodable(path, name)
            if problem:
                raise ImportFileError(f"the file starts like {name} but is not: {problem}")
            return _textual(path, name)
    if b"\x00" in head:
        for name in ("utf-16-le", "utf-16-be"):  # UTF-16 without BOM: every other byte of ASCII text is NUL
            half = head[1::2] if name == "utf-16-le" else head[::2]
            if head and half.count(0) > len(half) * 0.9:
                if _undecodable(path, name) is None:
                    return _textual(path, name)
                break
    if _undecodable(path, "utf-8") is None:
        return _textual(path, "utf-8")
    # Not UTF-8: a Windows export. cp1252 leaves five bytes undefined, which Latin-1 reads.
    return _textual(path, "cp1252" if _undecodable(path, "cp1252") is None else "latin-1")


def _whole_file(name: str) -> bool:
    return codecs.lookup(name).name.startswith("utf-16") or codecs.lookup(name).name.startswith("utf-32")


def _undecodable(path: Path, name: str) -> str | None:
    """Where the file stops being `name` ("byte 0xC9 on line 2 ..."), or None when all of it decodes."""
    if _whole_file(name):
        data = path.read_bytes()
        try:
            data.decode(name)
        except UnicodeDecodeError as err:
            return _where(data, err, 0)
        return None
    lines_before, pending = 0, b""
    with path.open("rb") as stream:
        while True:
            chunk = stream.read(CHUNK_BYTES)
            data = pending + chunk
            # In these encodings a newline byte is never part of another character: cut after the last one.
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            part, pending = data[:cut], data[cut:]
            try:
                part.decode(name)
            except UnicodeDecodeError as err:
                return _where(part, err, lines_before)
            lines_before += part.count(b"\n")
            if not chunk:
                return None


def _textual(path: Path, name: str) -> str:
    """A text file may hold a few stray control characters (its rows are refused one by one); not many."""
    with path.open(encoding=name, newline="") as stream:
        sample = stream.read(65536)
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(8, len(sample) // 100):
        raise ImportFileError("the file is binary, not a CSV or JSON text file")
    return name


def _where(data: bytes, err: UnicodeDecodeError, lines_before: int) -> str:
    line = lines_before + data[: err.start].count(b"\n") + 1
    return f"byte 0x{data[err.start]:02X} on line {line} (give --encoding)"


def text_lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines, each ending in "\\n", read a chunk at a time.

    Lines end at "\\n" only: str.splitlines() or a text file's own iteration would also break at characters
    such as "\\r" alone, U+0085 or U+001E inside a cell, and every line number after it would be wrong.
    """
    with path.open(encoding=encoding, newline="") as stream:
        rest = ""
        while chunk := stream.read(CHUNK_BYTES):
            *complete, rest = (rest + chunk).split("\n")
            for line in complete:
                yield line + "\n"
        if rest:
            yield rest + "\n"


def read_text(path: Path, encoding: str) -> str:
    """The whole text (JSON documents are checked as a whole before their invoices are read)."""
    return path.read_bytes().decode(encoding)


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


class _Tape:
    """The file's lines as a CSV reader takes them, keeping those of the record being read, so that the lines
    a broken record swallowed can be read again as the rows they are."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines, self.kept, self.again = lines, list[str](), collections.deque[str]()

    def __iter__(self) -> "_Tape":
        return self

    def __next__(self) -> str:
        line = self.again.popleft() if self.again else next(self.lines)
        self.kept.append(line)
        return line

    def rewind_after_first(self) -> None:
        """The record's lines but its first are read again."""
        self.again.extendleft(reversed(self.kept[1:]))
        self.kept.clear()


def csv_rows(lines: Iterator[str], longest: int) -> tuple[list[str], Iterator[RawRow]]:
    """The header, then every data row as it is read, each named by the line it starts on (a quoted cell may
    span lines). `longest` bounds a cell: the file's size."""
    first = next(lines, "")
    if first == "":
        raise ImportFileError("the file is empty")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    tape = _Tape(itertools.chain([first], lines))
    reader = csv.reader(tape, delimiter=delimiter, strict=True)
    with _cells_as_long_as(longest):
        try:
            header = [cell.strip().lstrip("\ufeff") for cell in next(reader)]
        except StopIteration:
            raise ImportFileError("the file is empty") from None
        except csv.Error as err:
            raise ImportFileError(f"line 1: the header cannot be read: {err}") from None
    return header, _data_rows(tape, delimiter, header, longest)


UNBALANCED = "a quoted cell opens on this line and is never closed (unbalanced quote)"


def _data_rows(tape: _Tape, delimiter: str, header: list[str], longest: int) -> Iterator[RawRow]:
    """Each row with the line it starts on. A quoted cell may hold line breaks (an address) when its row then
    has the header's cells; a quote that opens and never closes, or closes rows later, is reported on its line
    and the lines it swallowed are read again as the rows they are: nothing after it is lost."""
    offset = 1  # lines before the reader's first (the header)
    reader = csv.reader(tape, delimiter=delimiter, strict=True)
    with _cells_as_long_as(longest):
        while True:
            start = offset + reader.line_num + 1
            tape.kept.clear()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                end = offset + reader.line_num
                if "unexpected end of data" not in str(err) and end == start:
                    yield RawRow(start, problem=_csv_problem(err, start, end))
                    continue
                unbalanced: str | None = UNBALANCED if "unexpected end of data" in str(err) else None
                problem = unbalanced or _csv_problem(err, start, end)
            else:
                if not any(cell.strip() for cell in cells):
                    continue
                spans = offset + reader.line_num > start
                # a line it swallowed that holds a whole row's delimiters was a row: the quote is unbalanced
                swallowed_a_row = spans and any(line.count(delimiter) >= len(header) - 1 for line in tape.kept[1:])
                if not spans or (len(cells) == len(header) and not swallowed_a_row):
                    if len(cells) != len(header):
                        yield RawRow(start, problem=f"{len(cells)} cells for {len(header)} columns")
                    else:
                        yield RawRow(start, fields=dict(zip(header, cells, strict=True)))
                    continue
                end = offset + reader.line_num
                problem = f"a quoted cell runs from line {start} to {end}, over rows of their own (unbalanced quote?)"
            yield RawRow(start, problem=problem)
            tape.rewind_after_first()  # the lines it swallowed are rows of their own
            offset, reader = start, csv.reader(tape, delimiter=delimiter, strict=True)


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


def json_rows(text: str) -> Iterator[RawRow]:
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
    return _items(body, position)


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
