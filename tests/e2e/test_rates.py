"""Keeping the rate table current: the ECB series merged in, legal rates entered, coverage shown.

The updater runs as ops run it (`relance rates …` in its own process, the real httpx client) against the
recorded ECB answer served locally; every refused answer leaves the rates file byte for byte as it was.
"""

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from relance.domain.rate_updates import (
    Observation,
    RateUpdateRefused,
    coverage,
    covers,
    merge_ecb,
    set_legal,
)
from relance.rates.ecb import SERIES, parse_mro_csv
from relance.rates.table_file import coverage_warning, load_rates, render, save_rates
from tests.builders import RECORDED, ROOT, rates
from tests.recording_endpoint import RecordingEndpoint, Reply

TODAY = date(2026, 11, 29)
D = Decimal

SHIPPED = ROOT / "rates" / "france.yaml"


def obs(*pairs: tuple[str, str]) -> list[Observation]:
    return [Observation(date.fromisoformat(day), D(rate)) for day, rate in pairs]


# ---- merging the ECB series -----------------------------------------------------------------------------


def test_the_recorded_answer_confirms_the_table_and_extends_it_to_the_fetch_day():
    table = load_rates(SHIPPED)
    merged = merge_ecb(table, parse_mro_csv(RECORDED), fetched_on=TODAY, source="ECB")
    assert merged.added == []
    ecb = merged.table.ecb_main_refinancing
    assert (ecb.known_through, ecb.fetched_on, ecb.fetched_from) == (TODAY, TODAY, "ECB")
    assert ecb.changes == table.ecb_main_refinancing.changes


def test_a_new_decision_is_added_with_its_source_and_fetch_day():
    recorded = parse_mro_csv(RECORDED)
    answer = [*recorded, *obs(("2026-09-17", "2.40"), ("2026-10-29", "2.40"), ("2026-11-04", "2.65"))]
    merged = merge_ecb(load_rates(SHIPPED), answer, fetched_on=TODAY, source="ECB Data Portal")
    assert [(c.from_, c.rate, c.source) for c in merged.added] == [
        (date(2026, 9, 17), D("2.40"), "ECB Data Portal, fetched 2026-11-29"),
        (date(2026, 11, 4), D("2.65"), "ECB Data Portal, fetched 2026-11-29"),
    ]


def test_a_daily_series_repeating_the_rate_adds_only_its_changes():
    answer = obs(("2025-06-11", "2.15"), ("2025-06-12", "2.15"), ("2026-03-02", "2.00"), ("2026-03-03", "2.00"))
    merged = merge_ecb(load_rates(SHIPPED), answer, fetched_on=TODAY, source="ECB")
    assert [(c.from_, c.rate) for c in merged.added] == [(date(2026, 3, 2), D("2.00"))]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ([], "the answer holds no observation of the MRO rate"),
        (
            obs(("2025-07-01", "2.15")),
            "the answer starts on 2025-07-01, after the table's last change (2025-06-11): a partial history cannot "
            "prove no change was missed",
        ),
        (
            obs(("2025-04-23", "2.40"), ("2025-06-11", "2.25")),
            "the answer gives 2.25 % on 2025-06-11 where the table has 2.15 %: check the table's source before "
            "updating",
        ),
        (
            obs(("2025-06-11", "2.15"), ("2026-12-01", "2.00")),
            "the answer has an observation dated 2026-12-01, after the fetch day 2026-11-29",
        ),
        (
            obs(("2025-06-11", "2.15"), ("2026-02-01", "215")),
            "the answer's rate on 2026-02-01 is 215 %, not a plausible MRO rate",
        ),
        (
            obs(("2025-06-11", "2.15"), ("2025-06-11", "2.15")),
            "the answer's observations are not in date order, or a date repeats",
        ),
    ],
)
def test_an_answer_that_would_make_the_table_wrong_is_refused(answer, reason):
    with pytest.raises(RateUpdateRefused) as refused:
        merge_ecb(load_rates(SHIPPED), answer, fetched_on=TODAY, source="ECB")
    assert str(refused.value) == reason


def cut(text: str) -> str:
    """The recorded answer cut in the middle of its last row, as a dropped connection leaves it."""
    return text[: text.rindex("\r\n", 0, len(text) - 2) + 60]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the answer is empty"),
        ("<html><body>Service unavailable</body></html>", "the answer lacks the column(s) KEY, TIME_PERIOD, OBS_VALUE"),
        (cut(RECORDED), "line 10 has 9 cells for 34 columns (cut short?)"),
        (RECORDED.split("\r\n", 1)[0] + "\r\n", "the answer holds no observation of the MRO rate"),
        (RECORDED.replace(SERIES, "FM.B.U2.EUR.4F.KR.DFR.LEV", 1), "line 2 is series 'FM.B.U2.EUR.4F.KR.DFR.LEV'"),
        (RECORDED.replace("2024-06-12", "12/06/2024"), "line 3: TIME_PERIOD '12/06/2024' is not a day"),
        (RECORDED.replace(",4.25,", ",NaN,"), "line 3: OBS_VALUE 'NaN' is not a number"),
        (RECORDED.replace(",4.25,", ",,"), "line 3: OBS_VALUE '' is not a number"),
    ],
)
def test_a_malformed_answer_is_refused_with_its_line(text, reason):
    with pytest.raises(RateUpdateRefused) as refused:
        parse_mro_csv(text)
    assert str(refused.value).startswith(reason)


def test_the_recorded_answer_parses_to_two_decimal_rates():
    assert [(str(o.day), str(o.rate)) for o in parse_mro_csv(RECORDED)][:2] == [
        ("2023-09-20", "4.50"),
        ("2024-06-12", "4.25"),
    ]


# ---- legal rates ----------------------------------------------------------------------------------------


def test_a_legal_rate_is_entered_in_its_place():
    table, changed = set_legal(load_rates(SHIPPED), "2026-h2", "6,40", "2.50 %", " arrêté du 19 juin 2026 ")
    assert changed
    last = table.legal_interest[-1]
    assert (last.period, last.private_creditor, last.other, last.source) == (
        "2026-H2",
        D("6.40"),
        D("2.50"),
        "arrêté du 19 juin 2026",
    )
    again, changed = set_legal(table, "2026-H2", "6.40", "2.50", "arrêté du 19 juin 2026")
    assert (again, changed) == (table, False)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("2026-H3", "6.40", "2.50", "a"), "period '2026-H3' is not a half-year such as 2026-H2"),
        (("1850-H1", "6.40", "2.50", "a"), "period '1850-H1': the year must be between 1999 and 2100"),
        (("2026-H2", "six", "2.50", "a"), "--private 'six' is not a percentage such as 6.67"),
        (("2026-H2", "6.40", "45", "a"), "--other '45' is not a plausible legal interest rate (0 to 30 %)"),
        (("2026-H2", "6.405", "2.50", "a"), "--private '6.405': arrêtés publish two decimals"),
        (
            ("2026-H2", "2.50", "6.40", "a"),
            "the private-creditor rate (2.50 %) is below the other rate (6.40 %); every arrêté since 2015 has it "
            "above: are the two columns swapped?",
        ),
        (("2026-H2", "6.40", "2.50", "  "), "--source is empty: name the arrêté (date and Journal officiel reference)"),
        (
            ("2026-H1", "6.60", "2.62", "a"),
            "2026-H1 is already in the table (6.67 % / 2.62 %, arrêté fixing the taux de l'intérêt légal for the "
            "half-year (Banque de France / service-public.fr tables)); give --replace to correct it",
        ),
    ],
)
def test_a_legal_rate_that_is_not_plausible_is_refused(args, reason):
    with pytest.raises(RateUpdateRefused) as refused:
        set_legal(load_rates(SHIPPED), *args)
    assert str(refused.value) == reason


def test_replace_corrects_a_half_year():
    table, changed = set_legal(load_rates(SHIPPED), "2026-H1", "6.60", "2.62", "correction", replace=True)
    assert changed and [r.private_creditor for r in table.legal_interest if r.period == "2026-H1"] == [D("6.60")]


# ---- coverage -------------------------------------------------------------------------------------------


def test_coverage_names_the_first_day_and_what_to_add():
    table = load_rates(SHIPPED)
    gap = coverage(table)
    assert gap.first_uncovered == date(2026, 7, 1)
    assert gap.missing == [
        "the ECB MRO rate in force on 2026-07-01 (relance rates update)",
        "the legal interest rates for 2026-H2 (relance rates set-legal 2026-H2 --private … --other …)",
    ]
    updated = merge_ecb(table, parse_mro_csv(RECORDED), fetched_on=TODAY, source="ECB").table
    assert coverage(updated).missing == [
        "the legal interest rates for 2026-H2 (relance rates set-legal 2026-H2 --private … --other …)"
    ]
    complete, _ = set_legal(updated, "2026-H2", "6.40", "2.50", "arrêté")
    assert (coverage(complete).first_uncovered, covers(complete, date(2026, 12, 31))) == (date(2027, 1, 1), True)
    assert not covers(complete, date(2027, 1, 1))


def test_a_gap_in_the_legal_rates_stops_the_coverage_there():
    table = load_rates(SHIPPED)
    table = table.model_copy(update={"legal_interest": [r for r in table.legal_interest if r.period != "2025-H1"]})
    assert coverage(table).first_uncovered == date(2025, 1, 1)


def test_the_worker_warning_says_what_to_add(tmp_path):
    assert coverage_warning(SHIPPED, date(2026, 6, 30)) is None
    assert coverage_warning(SHIPPED, TODAY) == (
        f"the rates file {SHIPPED} does not cover 2026-07-01 onwards: add the ECB MRO rate in force on 2026-07-01 "
        "(relance rates update) and the legal interest rates for 2026-H2 (relance rates set-legal 2026-H2 "
        "--private … --other …); until then statements of account and formal notices after that day wait"
    )
    broken = tmp_path / "rates.yaml"
    broken.write_text("ecb_main_refinancing: [", encoding="utf-8")
    assert (coverage_warning(broken, TODAY) or "").startswith(f"rate table {broken} unusable")


def test_the_file_is_written_whole_and_reads_back(tmp_path):
    path = tmp_path / "rates.yaml"
    table, _ = set_legal(load_rates(SHIPPED), "2026-H2", "6.40", "2.50", 'arrêté du 19 juin 2026 "JO n° 141"')
    save_rates(path, table)
    assert load_rates(path) == table
    assert render(load_rates(path)) == path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["rates.yaml"]  # no temporary file left behind


# ---- the commands, against the recorded answer -----------------------------------------------------------


@pytest.fixture
def ecb() -> Iterator[RecordingEndpoint]:
    endpoint = RecordingEndpoint(default=Reply(status=200, text=RECORDED, content_type="application/vnd.sdmx.data+csv"))
    yield endpoint
    endpoint.close()


@pytest.fixture
def rates_file(tmp_path) -> Path:
    path = tmp_path / "france.yaml"
    path.write_bytes(SHIPPED.read_bytes())
    return path


def test_update_then_set_legal_then_show(rates_file, ecb):
    done = rates(rates_file, ecb.url, "update")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "no new change of the ECB main refinancing rate"
    (request,) = ecb.requests
    assert request.path == "/data/FM/B.U2.EUR.4F.KR.MRR_FR.LEV?format=csvdata&startPeriod=2023-09-20"
    ecb_table = load_rates(rates_file).ecb_main_refinancing
    assert ecb_table.known_through == ecb_table.fetched_on == date.today()
    assert ecb_table.fetched_from == f"ECB Data Portal {ecb.url}/data/FM/B.U2.EUR.4F.KR.MRR_FR.LEV"

    entered = rates(
        rates_file, ecb.url, "set-legal", "2026-H2", "--private", "6.40", "--other", "2.50", "--source", "t"
    )
    assert (entered.returncode, entered.stdout.strip()) == (0, "2026-H2: 6.40 % / 2.50 % entered")

    shown = rates(rates_file, ecb.url, "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["first_uncovered"] == "2027-01-01"
    text = rates(rates_file, ecb.url, "show").stdout
    assert "first day not covered: 2027-01-01 (missing the ECB MRO rate in force on 2027-01-01" in text


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            Reply(status=200, text=cut(RECORDED), content_type="text/csv"),
            "the ECB answer was refused: line 10 has 9 cells for 34 columns (cut short?); the rates file is unchanged",
        ),
        (Reply(status=503, text="maintenance", content_type="text/plain"), "the ECB service answered 503"),
    ],
)
def test_a_bad_answer_changes_nothing_and_says_why(rates_file, ecb, reply, message):
    ecb.default = reply
    before = rates_file.read_bytes()
    done = rates(rates_file, ecb.url, "update")
    assert done.returncode == 1
    assert message in " ".join(done.stderr.split())
    assert rates_file.read_bytes() == before


def test_an_unreachable_service_changes_nothing(rates_file):
    before = rates_file.read_bytes()
    done = rates(rates_file, "http://127.0.0.1:1", "update")
    assert done.returncode == 1 and "cannot be reached" in done.stderr and "unchanged" in done.stderr
    assert rates_file.read_bytes() == before


def test_set_legal_refuses_with_the_reason_and_keeps_the_file(rates_file):
    before = rates_file.read_bytes()
    done = rates(
        rates_file, "http://127.0.0.1:1", "set-legal", "2026-H2", "--private", "2", "--other", "6", "--source", "x"
    )
    assert done.returncode == 1 and "are the two columns swapped?" in " ".join(done.stderr.split())
    assert rates_file.read_bytes() == before
