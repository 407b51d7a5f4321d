"""`relance rates`: keep the interest rate table current (ECB series, legal rates) and show what it covers."""

import json
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from relance.cli.support import JsonFlag, fail, out
from relance.domain.penalties import RateTable
from relance.domain.rate_updates import RateUpdateRefused, coverage, merge_ecb, set_legal
from relance.rates.ecb import EcbUnavailable, fetch_mro, parse_mro_csv, series_url
from relance.rates.table_file import RatesFileError, load_rates, save_rates
from relance.settings import get_settings

rates_app = typer.Typer(help="The interest rate table: update, enter legal rates, show.", no_args_is_help=True)


def _table() -> RateTable:
    try:
        return load_rates(get_settings().rates_file)
    except RatesFileError as exc:
        fail(str(exc))


def _save(table: RateTable) -> None:
    try:
        save_rates(get_settings().rates_file, table)
    except RatesFileError as exc:
        fail(str(exc))


@rates_app.command("update")
def rates_update(as_json: JsonFlag = False) -> None:
    """Fetch the ECB main refinancing rate history and add the changes the table lacks."""
    settings = get_settings()
    table = _table()
    today = date.today()
    start = table.ecb_main_refinancing.changes[0].from_
    try:
        observations = parse_mro_csv(fetch_mro(settings.ecb_api_url, start=start))
        merged = merge_ecb(
            table, observations, fetched_on=today, source=f"ECB Data Portal {series_url(settings.ecb_api_url)}"
        )
    except EcbUnavailable as exc:
        fail(f"{exc}; the rates file is unchanged")
    except RateUpdateRefused as exc:
        fail(f"the ECB answer was refused: {exc}; the rates file is unchanged")
    _save(merged.table)
    known = merged.table.ecb_main_refinancing.known_through
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "added": [{"from": str(c.from_), "rate": str(c.rate)} for c in merged.added],
                    "known_through": str(known),
                }
            )
        )
        return
    for change in merged.added:
        out.print(f"added: {change.rate} % from {change.from_}", highlight=False)
    if not merged.added:
        out.print("no new change of the ECB main refinancing rate", highlight=False)
    out.print(f"ECB rate known through {known} ({settings.rates_file})", highlight=False)


@rates_app.command("set-legal")
def rates_set_legal(
    period: Annotated[str, typer.Argument(help="the half-year, e.g. 2026-H2")],
    private: Annotated[str, typer.Option("--private", help="rate when the creditor is a private person, e.g. 6.67")],
    other: Annotated[str, typer.Option("--other", help="rate in every other case, e.g. 2.62")],
    source: Annotated[str, typer.Option("--source", help="the arrêté: date and Journal officiel reference")],
    replace: Annotated[bool, typer.Option("--replace", help="correct a half-year already entered")] = False,
) -> None:
    """Enter the taux d'intérêt légal of a half-year, as published by arrêté."""
    try:
        table, changed = set_legal(_table(), period, private, other, source, replace=replace)
    except RateUpdateRefused as exc:
        fail(f"{exc}; the rates file is unchanged")
    if changed:
        _save(table)
    row = next(r for r in table.legal_interest if r.period == period.strip().upper())
    state = "entered" if changed else "already entered, unchanged"
    out.print(f"{row.period}: {row.private_creditor} % / {row.other} % {state}", highlight=False)


@rates_app.command("show")
def rates_show(as_json: JsonFlag = False) -> None:
    """The table and the first day it does not cover."""
    table = _table()
    gap = coverage(table)
    ecb = table.ecb_main_refinancing
    if as_json:
        data = json.loads(table.model_dump_json(by_alias=True))
        out.print_json(json.dumps({**data, "first_uncovered": str(gap.first_uncovered), "missing": gap.missing}))
        return
    changes = Table(
        "from", "MRO rate", "source", title=f"ECB main refinancing rate (known through {ecb.known_through})"
    )
    for c in ecb.changes:
        changes.add_row(str(c.from_), f"{c.rate} %", c.source)
    out.print(changes)
    legal = Table("half-year", "private creditor", "other", "source", title="Taux d'intérêt légal")
    for r in table.legal_interest:
        legal.add_row(r.period, f"{r.private_creditor} %", f"{r.other} %", r.source)
    out.print(legal)
    out.print(f"first day not covered: {gap.first_uncovered} (missing {' and '.join(gap.missing)})", highlight=False)
