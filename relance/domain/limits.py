"""The input contract's limits, checked at every edge (import rows, starts, updates, signals).

Whatever is accepted here must fit everywhere downstream: the SQL ledger (money as integers scaled by
10^4 in 64-bit columns), the planner's calendar arithmetic, Temporal's ids and payload sizes, and the
terminals and pages that show ids and names. Anything outside is refused with its field and reason,
before it reaches a case. These rules run inside workflows too (a start is validated there): change
them only behind `workflow.patched`, since a running case replays its own validation.
"""

import json
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import pycountry
from babel.numbers import get_currency_precision
from pydantic import AfterValidator, BeforeValidator, Field

# Ten billion minus a cent: larger than any invoice, and small enough that SQL sums over ~90,000 of
# them still fit a signed 64-bit integer of 10^-4 units (SQLite's SUM overflows beyond that).
MAX_AMOUNT = Decimal("9999999999.99")
# Accounting dates: an invoice, payment or promise outside this range is a typo (year 1, year 9999),
# and the planner adds up to ten years of steps and holidays after a due date.
MIN_DAY = date(1990, 1, 1)
MAX_DAY = date(2100, 12, 31)
# Temporal refuses workflow ids over 1,000 bytes; ids also show in every listing, so keep them short.
MAX_ID = 100
MAX_NAME = 200
MAX_TEXT = 1000  # reasons, statuses: a sentence or a paragraph, never a document
MAX_METADATA_BYTES = 8 * 1024  # free-form metadata of a case, as compact JSON
MAX_METADATA_DEPTH = 4
# What one refused payload may add to a case's history: an excerpt, never the payload itself.
MAX_EXCERPT = 400
MAX_REPLY_TEXT = 4000  # what a case keeps of a debtor's reply (the whole mail stays with the provider)

AMOUNT_TEXT = re.compile(r"-?[0-9]{1,13}(\.[0-9]{1,4})?")  # a sign, so that "-5" is refused as negative
DAY_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Unicode categories a name or id never needs: controls (NUL, BEL, ESC...), formats (right-to-left
# override, zero-width characters, BOM), surrogates, private use, unassigned, line/paragraph separators.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

# ISO 4217 codes that are not money one invoices in: precious metals, SDR and other units of account,
# bond-market units, fund codes, the test code and "no currency". (pycountry is pinned: the list of
# accepted codes changes only when we bump it.)
NOT_MONEY = frozenset(
    {"XAD", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
    | {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"}
)
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
# Read once here: Babel loads its tables from files on first use, which the workflow sandbox forbids.
CURRENCY_DECIMALS = {code: get_currency_precision(code) for code in CURRENCIES}


def check_text(value: str) -> str:
    """Refuse characters that corrupt terminals, logs, workflow ids and pages (ANSI escapes, RLO, NUL)."""
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            return _refuse(f"contains the control character U+{ord(char):04X} at position {position}")
    return value


def check_message(value: str) -> str:
    """A message someone wrote (a reply's text): lines and tabs, nothing else that `check_text` refuses."""
    return "\n".join(check_text(line.replace("\t", "    ").removesuffix("\r")) for line in value.split("\n"))


def clean_message(value: str, limit: int) -> str:
    """Text another system sent, made fit for `check_message`: other controls dropped, bounded."""
    kept = "".join(
        c for c in value.replace("\r\n", "\n") if c in "\n\t" or unicodedata.category(c) not in FORBIDDEN_CATEGORIES
    )
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def _refuse(message: str) -> Any:
    raise ValueError(message)


def decimal_text(value: Any) -> Decimal:
    """An amount as the contract writes it: a decimal string ("1250.00"), or a Decimal from Python code.

    JSON numbers are refused (a float is not exact), and so are exponents, digit separators and
    non-ASCII digits, which `Decimal()` alone would accept.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            return _refuse("must be a finite number")
        return value
    if isinstance(value, int | float):  # bool is an int too
        return _refuse(f'amounts are decimal strings such as "1250.00", not the JSON number {value!r}')
    if not isinstance(value, str):
        return _refuse(f'amounts are decimal strings such as "1250.00", got {type(value).__name__}')
    text = value.strip()
    if not AMOUNT_TEXT.fullmatch(text):
        shown = text if len(text) <= 40 else text[:40] + "…"
        return _refuse(f'{shown!r} is not an amount: write digits with an optional "." and up to 4 decimals')
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return _refuse(f"{text!r} is not a number")


def amount_in_range(value: Decimal) -> Decimal:
    if value <= 0:
        return _refuse(f"must be greater than 0, got {value}")
    if value > MAX_AMOUNT:
        return _refuse(f"must be at most {MAX_AMOUNT}, got {value}")
    return value


def not_negative(value: Decimal) -> Decimal:
    if value < 0:
        return _refuse(f"must not be negative, got {value}")
    if value > MAX_AMOUNT:
        return _refuse(f"must be at most {MAX_AMOUNT}, got {value}")
    return value


def day_value(value: Any) -> date:
    """A calendar day: a date, or text YYYY-MM-DD (no timestamps, no times)."""
    if isinstance(value, datetime):
        return _refuse("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not DAY_TEXT.fullmatch(value.strip()):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        return _refuse(f"must be a date written YYYY-MM-DD, got {shown}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as err:
        return _refuse(f"{value.strip()!r} is not a date: {err}")


def day_in_range(value: date) -> date:
    if not MIN_DAY <= value <= MAX_DAY:
        return _refuse(f"{value} is outside the accepted range {MIN_DAY} to {MAX_DAY}")
    return value


def instant_in_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        return _refuse("must include a time zone offset")
    if not MIN_DAY <= value.date() <= MAX_DAY:
        return _refuse(f"{value.isoformat()} is outside the accepted range {MIN_DAY} to {MAX_DAY}")
    return value


def currency_code(value: str) -> str:
    if value not in CURRENCIES:
        return _refuse(f"unknown currency {value[:10]!r}: expected an ISO 4217 code in use, such as EUR")
    return value


def country_code(value: str) -> str:
    if value not in COUNTRIES:
        return _refuse(f"unknown country {value[:10]!r}: expected an ISO 3166 alpha-2 code, such as FR")
    return value


def metadata_value(value: Any) -> Any:
    """Free-form metadata stays small and shallow: it travels with the case in every history."""
    if not isinstance(value, dict):
        return value  # the type check that follows names what is wrong
    depth = _depth(value)
    if depth > MAX_METADATA_DEPTH:
        return _refuse(f"nested {depth} levels deep; at most {MAX_METADATA_DEPTH}")
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())
    except (TypeError, ValueError) as err:
        return _refuse(f"is not plain JSON: {err}")
    if size > MAX_METADATA_BYTES:
        return _refuse(f"is {size:,} bytes as JSON; at most {MAX_METADATA_BYTES:,}")
    return value


def _depth(value: Any, level: int = 1) -> int:
    """Depth of nested containers, stopping early past the limit (no recursion blow-up on hostile input)."""
    if level > MAX_METADATA_DEPTH + 1:
        return level
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_depth(child, level + 1) for child in children if isinstance(child, dict | list)), default=level)


def excerpt(payload: Any) -> str:
    """A bounded, printable view of a refused payload for the case history and the ledger."""
    try:
        text = json.dumps(payload, ensure_ascii=True, default=str, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        text = type(payload).__name__
    return text if len(text) <= MAX_EXCERPT else f"{text[:MAX_EXCERPT]}… ({len(text):,} characters)"


def printable(value: str, limit: int) -> str:
    """Text someone else sent (an id, a handler name), safe to print and store: bounded, and JSON-escaped
    when it holds control characters."""
    try:
        return bounded(check_text(value), limit)
    except ValueError:
        return bounded(excerpt(value), limit)


def bounded(message: str, limit: int = MAX_TEXT) -> str:
    """A refusal message that quotes input stays bounded too."""
    return message if len(message) <= limit else f"{message[:limit]}…"


# The annotated types that models use for every public field.
Amount = Annotated[Decimal, BeforeValidator(decimal_text), AfterValidator(amount_in_range)]
AmountOrZero = Annotated[Decimal, BeforeValidator(decimal_text), AfterValidator(not_negative)]
Day = Annotated[date, BeforeValidator(day_value), AfterValidator(day_in_range)]
Instant = Annotated[datetime, AfterValidator(instant_in_range)]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID), AfterValidator(check_text)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(check_text)]
ShortText = Annotated[str, Field(max_length=MAX_NAME), AfterValidator(check_text)]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(check_text)]
MessageText = Annotated[str, Field(max_length=MAX_REPLY_TEXT), AfterValidator(check_message)]
Currency = Annotated[str, AfterValidator(currency_code)]
Country = Annotated[str, AfterValidator(country_code)]
Metadata = Annotated[dict[str, Any], BeforeValidator(metadata_value)]
