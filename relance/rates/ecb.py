"""The ECB main refinancing operations rate, read from the ECB Data Portal's SDMX web service.

The series is FM.B.U2.EUR.4F.KR.MRR_FR.LEV (MRO fixed rate, level, dated by the day each change took
effect), asked for in the portal's `csvdata` format. The answer is checked before any use: the right series,
every row complete, dates and percentages that parse; `relance.domain.rate_updates` then decides whether it
may change the table.
"""

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation

import httpx

from relance.domain.rate_updates import Observation, RateUpdateRefused

FLOW, KEY = "FM", "B.U2.EUR.4F.KR.MRR_FR.LEV"
SERIES = f"{FLOW}.{KEY}"
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # the whole history since 1999 is a few kilobytes
REQUIRED = ("KEY", "TIME_PERIOD", "OBS_VALUE")


class EcbUnavailable(RuntimeError):
    """The ECB service could not be reached or did not answer with the series."""


def series_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/data/{FLOW}/{KEY}"


def fetch_mro(base_url: str, *, start: date, timeout: float = 30.0) -> str:
    """The series from `start` on, as the service's CSV text."""
    url = series_url(base_url)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            answer = client.get(url, params={"format": "csvdata", "startPeriod": start.isoformat()})
    except httpx.HTTPError as exc:
        raise EcbUnavailable(f"the ECB service at {url} cannot be reached: {exc}") from exc
    if answer.status_code != 200:
        raise EcbUnavailable(f"the ECB service answered {answer.status_code} for {answer.url}: {answer.text[:200]}")
    if len(answer.content) > MAX_ANSWER_BYTES:
        raise RateUpdateRefused(f"the answer is {len(answer.content):,} bytes, far more than the series holds")
    return answer.text


def parse_mro_csv(text: str) -> list[Observation]:
    """Every observation of the series in the answer; any row that is not complete refuses the whole answer."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise RateUpdateRefused("the answer is empty") from None
    except csv.Error as exc:
        raise RateUpdateRefused(f"the answer is not CSV: {exc}") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RateUpdateRefused(f"the answer lacks the column(s) {', '.join(missing)}: not the csvdata format")
    where = {name: header.index(name) for name in REQUIRED}
    observations = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise RateUpdateRefused(f"line {line} has {len(cells)} cells for {len(header)} columns (cut short?)")
            if cells[where["KEY"]] != SERIES:
                raise RateUpdateRefused(f"line {line} is series {cells[where['KEY']]!r}, not {SERIES}")
            observations.append(_observation(cells[where["TIME_PERIOD"]], cells[where["OBS_VALUE"]], line))
    except csv.Error as exc:
        raise RateUpdateRefused(f"the answer is not valid CSV at line {reader.line_num}: {exc}") from None
    if not observations:
        raise RateUpdateRefused("the answer holds no observation of the MRO rate")
    return sorted(observations, key=lambda o: o.day)


def _observation(period: str, value: str, line: int) -> Observation:
    try:
        day = date.fromisoformat(period.strip())
    except ValueError:
        raise RateUpdateRefused(f"line {line}: TIME_PERIOD {period!r} is not a day (YYYY-MM-DD)") from None
    try:
        rate = Decimal(value.strip())
    except InvalidOperation:
        raise RateUpdateRefused(f"line {line}: OBS_VALUE {value!r} is not a number") from None
    if not rate.is_finite():
        raise RateUpdateRefused(f"line {line}: OBS_VALUE {value!r} is not a number")
    cents = rate.quantize(Decimal("0.01"))
    return Observation(day, cents if cents == rate else rate)  # "2.15", "2.00", as the arrêtés print them
