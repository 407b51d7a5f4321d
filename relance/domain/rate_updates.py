"""Keeping the rate table current: the ECB's MRO history merged in, a half-year's legal rate entered, and
what the table covers. Pure functions over `RateTable`: the CLI fetches the series and writes the file.

An update either applies whole or changes nothing: an answer that is empty, reaches into the future, stops
short of what the table already knows, or contradicts it is refused with the reason, since a wrong rate in a
formal notice is worse than a missing one.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from relance.domain.penalties import HalfYear, LegalRate, RateChange, RateTable

RATE_BOUNDS = (Decimal("-5"), Decimal("25"))  # a central bank rate outside these is a parsing error
LEGAL_BOUNDS = (Decimal("0"), Decimal("30"))
FIRST_YEAR, LAST_YEAR = 1999, 2100


class RateUpdateRefused(ValueError):
    """The update would make the table wrong or less complete; nothing was changed."""


@dataclass(frozen=True)
class Observation:
    day: date
    rate: Decimal


@dataclass(frozen=True)
class EcbMerge:
    table: RateTable
    added: list[RateChange]


def merge_ecb(table: RateTable, observations: list[Observation], *, fetched_on: date, source: str) -> EcbMerge:
    """The table with the series' changes after the last one it knows, known through the fetch day."""
    if not observations:
        raise RateUpdateRefused("the answer holds no observation of the MRO rate")
    days = [o.day for o in observations]
    if days != sorted(days) or len(set(days)) != len(days):
        raise RateUpdateRefused("the answer's observations are not in date order, or a date repeats")
    if days[-1] > fetched_on:
        raise RateUpdateRefused(f"the answer has an observation dated {days[-1]}, after the fetch day {fetched_on}")
    for o in observations:
        if not RATE_BOUNDS[0] < o.rate < RATE_BOUNDS[1]:
            raise RateUpdateRefused(f"the answer's rate on {o.day} is {o.rate} %, not a plausible MRO rate")
    changes = _changes(observations)
    ecb = table.ecb_main_refinancing
    last = ecb.changes[-1]
    if changes[0].day > last.from_:
        raise RateUpdateRefused(
            f"the answer starts on {changes[0].day}, after the table's last change ({last.from_}): "
            "a partial history cannot prove no change was missed"
        )
    for known in ecb.changes:
        said = _in_force(changes, known.from_)
        if said is not None and said != known.rate:
            raise RateUpdateRefused(
                f"the answer gives {said} % on {known.from_} where the table has {known.rate} %: "
                "check the table's source before updating"
            )
    added = [
        RateChange.model_validate({"from": c.day, "rate": c.rate, "source": f"{source}, fetched {fetched_on}"})
        for c in changes
        if c.day > last.from_  # the answer reaches back to `last`, so each of these is a real change
    ]
    merged = ecb.model_copy(
        update={
            "changes": [*ecb.changes, *added],
            "known_through": max(ecb.known_through, fetched_on),
            "fetched_on": fetched_on,
            "fetched_from": source,
        }
    )
    return EcbMerge(table.model_copy(update={"ecb_main_refinancing": merged}), added)


def _changes(observations: list[Observation]) -> list[Observation]:
    """Only the days the rate changed (a daily series repeats the rate in force every business day)."""
    kept: list[Observation] = []
    for o in observations:
        if not kept or kept[-1].rate != o.rate:
            kept.append(o)
    return kept


def _in_force(changes: list[Observation], day: date) -> Decimal | None:
    """The rate the answer says was in force on `day`, or None before its first observation."""
    before = [c for c in changes if c.day <= day]
    return before[-1].rate if before else None


def set_legal(
    table: RateTable, period: str, private_creditor: str, other: str, source: str, *, replace: bool = False
) -> tuple[RateTable, bool]:
    """The table with the half-year's legal rates (published by arrêté), and whether anything changed."""
    half = parse_half_year(period)
    private_rate, other_rate = _legal_value("--private", private_creditor), _legal_value("--other", other)
    if private_rate < other_rate:
        raise RateUpdateRefused(
            f"the private-creditor rate ({private_rate} %) is below the other rate ({other_rate} %); every arrêté "
            "since 2015 has it above: are the two columns swapped?"
        )
    if not source.strip():
        raise RateUpdateRefused("--source is empty: name the arrêté (date and Journal officiel reference)")
    row = LegalRate(period=str(half), private_creditor=private_rate, other=other_rate, source=source.strip())
    rows = {r.period: r for r in table.legal_interest}
    existing = rows.get(row.period)
    if existing is not None:
        if (existing.private_creditor, existing.other) == (row.private_creditor, row.other):
            return table, False
        if not replace:
            raise RateUpdateRefused(
                f"{row.period} is already in the table ({existing.private_creditor} % / {existing.other} %, "
                f"{existing.source}); give --replace to correct it"
            )
    rows[row.period] = row
    ordered = [rows[p] for p in sorted(rows)]
    return table.model_copy(update={"legal_interest": ordered}), True


def parse_half_year(text: str) -> HalfYear:
    parts = text.strip().upper().split("-H")
    if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in ("1", "2"):
        raise RateUpdateRefused(f"period {text!r} is not a half-year such as 2026-H2")
    year = int(parts[0])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise RateUpdateRefused(f"period {text!r}: the year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return HalfYear(year, int(parts[1]))


def _legal_value(option: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ".").removesuffix("%").strip())
    except InvalidOperation:
        raise RateUpdateRefused(f"{option} {text!r} is not a percentage such as 6.67") from None
    if not value.is_finite() or not LEGAL_BOUNDS[0] < value < LEGAL_BOUNDS[1]:
        raise RateUpdateRefused(f"{option} {text!r} is not a plausible legal interest rate (0 to 30 %)")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RateUpdateRefused(f"{option} {text!r}: arrêtés publish two decimals")
    return value


# ---- coverage ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    first_uncovered: date  # the first day a statement of account cannot be computed for
    missing: list[str]  # what to add, in words, for the half-year of `first_uncovered`


def coverage(table: RateTable) -> Coverage:
    """The first day the table cannot price, and which rate is missing for it.

    The B2B default rate of a half-year is the MRO rate in force on its first day, so the ECB part covers
    through the end of the half-year holding `known_through`; the legal rates cover each listed half-year
    from the first one on, up to the first gap.
    """
    ecb = table.ecb_main_refinancing
    ecb_end = HalfYear.of(ecb.known_through).end + timedelta(days=1)
    periods = sorted(r.period for r in table.legal_interest)
    legal_end = date.min
    if periods:
        half = parse_half_year(periods[0])
        while str(half) in periods:
            half = _next(half)
        legal_end = half.start
    first = min(ecb_end, legal_end) if periods else ecb_end
    half = HalfYear.of(first)
    missing = []
    if first >= ecb_end:
        missing.append(f"the ECB MRO rate in force on {half.start} (relance rates update)")
    if not periods or first >= legal_end:
        missing.append(f"the legal interest rates for {half} (relance rates set-legal {half} --private … --other …)")
    return Coverage(first, missing)


def covers(table: RateTable, day: date) -> bool:
    return day < coverage(table).first_uncovered


def _next(half: HalfYear) -> HalfYear:
    return HalfYear(half.year, 2) if half.half == 1 else HalfYear(half.year + 1, 1)
