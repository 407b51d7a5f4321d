"""French late-payment computations, each row worked out by hand from the rules (see relance/domain/penalties.py).

Rates from rates/france.yaml. B2B default = ECB MRO rate on 1 Jan / 1 Jul + 10 points: 2024-H1 14.50,
2024-H2 14.25, 2025-H1 13.15, 2025-H2 12.15, 2026-H1 12.15; 2026-H2 unknown. Legal rate (other /
private creditor): 2024-H1 5.07 / 8.01, 2025-H2 2.76 / 6.65, 2026-H1 2.62 / 6.67.
Interest = base x rate / 100 x days / 365, rounded to the cent per half-year line.
"""

from datetime import date
from decimal import Decimal

import pytest

from relance.domain.invoice import CustomerKind
from relance.domain.penalties import (
    Claim,
    HalfYear,
    Imputation,
    MissingRate,
    Paid,
    b2b_rate,
    b2c_rate,
    ecb_rate_on,
    legal_rate,
    limitation_date,
    statement,
)
from relance.rates.table_file import load_rates
from tests.builders import ROOT

RATES = load_rates(ROOT / "rates" / "france.yaml")
D = Decimal


@pytest.mark.parametrize(
    ("period", "contract", "expected"),
    [
        (HalfYear(2024, 1), None, D("14.50")),  # 4.50 in force since 20/09/2023
        (HalfYear(2024, 2), None, D("14.25")),  # 4.25 from 12/06/2024
        (HalfYear(2025, 1), None, D("13.15")),  # 3.15 from 18/12/2024
        (HalfYear(2025, 2), None, D("12.15")),  # 2.15 from 11/06/2025
        (HalfYear(2026, 1), None, D("12.15")),  # unchanged on 1/1/2026
        (HalfYear(2026, 1), D("10"), D("10")),  # above the floor 3 x 2.62 = 7.86
        (HalfYear(2026, 1), D("5"), D("7.86")),  # below the floor: raised to it
        (HalfYear(2024, 1), D("5"), D("15.21")),  # 3 x 5.07
    ],
)
def test_b2b_rate(period, contract, expected):
    assert b2b_rate(RATES, period, contract)[0] == expected


def test_b2b_rate_says_how_it_was_reached():
    assert b2b_rate(RATES, HalfYear(2026, 1))[1] == "ECB rate 2.15 % on 01/01/2026 + 10 points"
    assert b2b_rate(RATES, HalfYear(2026, 1), D("5"))[1] == "contract rate 5 % raised to 3 × the legal rate (7.86 %)"


@pytest.mark.parametrize(
    ("period", "private", "expected"),
    [(HalfYear(2025, 2), False, D("2.76")), (HalfYear(2025, 2), True, D("6.65")), (HalfYear(2024, 1), True, D("8.01"))],
)
def test_b2c_rate(period, private, expected):
    assert b2c_rate(RATES, period, private_creditor=private)[0] == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: b2b_rate(RATES, HalfYear(2026, 2)), "no ECB main refinancing rate known for 2026-07-01"),
        (lambda: legal_rate(RATES, HalfYear(2023, 2)), "no taux d'intérêt légal for 2023-H2 in the rates file"),
        (lambda: ecb_rate_on(RATES, date(2023, 9, 19)), "no ECB main refinancing rate in the rates file as early"),
        (lambda: b2b_rate(RATES, HalfYear(2026, 2), D("15")), "no taux d'intérêt légal for 2026-H2"),
    ],
)
def test_a_missing_rate_is_an_error_never_zero(call, message):
    with pytest.raises(MissingRate, match=message):
        call()


def claim(principal: str, due: date, kind: str = "business", **extra) -> Claim:
    return Claim(
        invoice_id="F-1",
        currency=extra.pop("currency", "EUR"),
        principal=D(principal),
        due_date=due,
        debtor=CustomerKind(kind),
        **extra,
    )


def paid(on: date, amount: str, ref: str = "P") -> Paid:
    return Paid(paid_on=on, amount=D(amount), reference=ref)


# (claim, payments, at, interest lines as (start, end, days, rate, amount), principal, interest, indemnity due)
STATEMENTS = [
    pytest.param(  # 30 days (1/2-2/3) x 12.15 %: 1000 x 0.1215 x 30 / 365 = 9.9863
        claim("1000.00", date(2026, 1, 31)),
        [],
        date(2026, 3, 2),
        [(date(2026, 2, 1), date(2026, 3, 2), 30, D("12.15"), D("9.99"))],
        ("1000.00", "9.99", "40.00"),
        id="b2b-30-days",
    ),
    pytest.param(  # 10 days at 13.15 % (3.6027) then 10 days at 12.15 % (3.3288)
        claim("1000.00", date(2025, 6, 20)),
        [],
        date(2025, 7, 10),
        [
            (date(2025, 6, 21), date(2025, 6, 30), 10, D("13.15"), D("3.60")),
            (date(2025, 7, 1), date(2025, 7, 10), 10, D("12.15"), D("3.33")),
        ],
        ("1000.00", "6.93", "40.00"),
        id="b2b-across-30-june",
    ),
    pytest.param(  # 11 days at 12.15 % (3.6616), 9 days at 12.15 % (2.9959)
        claim("1000.00", date(2025, 12, 20)),
        [],
        date(2026, 1, 9),
        [
            (date(2025, 12, 21), date(2025, 12, 31), 11, D("12.15"), D("3.66")),
            (date(2026, 1, 1), date(2026, 1, 9), 9, D("12.15"), D("3.00")),
        ],
        ("1000.00", "6.66", "40.00"),
        id="b2b-across-31-december",
    ),
    pytest.param(  # 184 days at 14.25 %: 10000 x 0.1425 x 184 / 365 = 718.356
        claim("10000.00", date(2024, 6, 30)),
        [],
        date(2024, 12, 31),
        [(date(2024, 7, 1), date(2024, 12, 31), 184, D("14.25"), D("718.36"))],
        ("10000.00", "718.36", "40.00"),
        id="b2b-whole-half-year",
    ),
    pytest.param(
        claim("500.00", date(2026, 2, 15)),
        [paid(date(2026, 2, 15), "500.00")],
        date(2026, 3, 31),
        [],
        ("0", "0", "0"),
        id="paid-on-the-due-date",
    ),
    pytest.param(
        claim("1000.00", date(2026, 1, 31)), [], date(2026, 1, 31), [], ("1000.00", "0", "0"), id="not-yet-late"
    ),
    pytest.param(  # 30 days on 1200 = 11.9836; the payment pays 11.98 interest, 1188.02 principal;
        # then 29 days on 11.98 = 0.1156
        claim("1200.00", date(2026, 1, 31)),
        [paid(date(2026, 3, 2), "1200.00")],
        date(2026, 3, 31),
        [
            (date(2026, 2, 1), date(2026, 3, 2), 30, D("12.15"), D("11.98")),
            (date(2026, 3, 3), date(2026, 3, 31), 29, D("12.15"), D("0.12")),
        ],
        ("11.98", "0.12", "40.00"),
        id="paid-late-interest-first",
    ),
    pytest.param(  # principal first: the 1200 clears the principal; 11.98 interest and 40 stay due
        claim("1200.00", date(2026, 1, 31), imputation=Imputation.principal_first),
        [paid(date(2026, 3, 2), "1200.00")],
        date(2026, 3, 31),
        [(date(2026, 2, 1), date(2026, 3, 2), 30, D("12.15"), D("11.98"))],
        ("0.00", "11.98", "40.00"),
        id="paid-late-principal-first",
    ),
    pytest.param(  # 10 days on 2000 = 6.6575; 1000 pays 6.66 + 993.34; 20 days on 1006.66 = 6.7019
        claim("2000.00", date(2026, 1, 31)),
        [paid(date(2026, 2, 10), "1000.00")],
        date(2026, 3, 2),
        [
            (date(2026, 2, 1), date(2026, 2, 10), 10, D("12.15"), D("6.66")),
            (date(2026, 2, 11), date(2026, 3, 2), 20, D("12.15"), D("6.70")),
        ],
        ("1006.66", "6.70", "40.00"),
        id="partial-payment",
    ),
    pytest.param(  # one day late: 0.3329 interest; the payment leaves 0.33 of principal and the 40
        claim("1000.00", date(2026, 1, 31)),
        [paid(date(2026, 2, 1), "1000.00")],
        date(2026, 2, 1),
        [(date(2026, 2, 1), date(2026, 2, 1), 1, D("12.15"), D("0.33"))],
        ("0.33", "0.00", "40.00"),
        id="one-day-late",
    ),
    pytest.param(  # contract rate 15 %: 1000 x 0.15 x 30 / 365 = 12.3288
        claim("1000.00", date(2026, 1, 31), contract_rate=D("15")),
        [],
        date(2026, 3, 2),
        [(date(2026, 2, 1), date(2026, 3, 2), 30, D("15"), D("12.33"))],
        ("1000.00", "12.33", "40.00"),
        id="contract-rate",
    ),
    pytest.param(  # contract rate 5 % raised to 7.86 %: 1000 x 0.0786 x 30 / 365 = 6.4603
        claim("1000.00", date(2026, 1, 31), contract_rate=D("5")),
        [],
        date(2026, 3, 2),
        [(date(2026, 2, 1), date(2026, 3, 2), 30, D("7.86"), D("6.46"))],
        ("1000.00", "6.46", "40.00"),
        id="contract-rate-below-floor",
    ),
    pytest.param(  # paid early and too much: no interest, no indemnity
        claim("100.00", date(2026, 1, 31)),
        [paid(date(2026, 1, 20), "200.00")],
        date(2026, 3, 2),
        [],
        ("0", "0", "0"),
        id="overpaid-early",
    ),
    pytest.param(  # 100 x 0.1215 x 30 / 365 = 0.9986; the EUR 40 indemnity is not assumed for USD
        claim("100.00", date(2026, 1, 31), currency="USD"),
        [],
        date(2026, 3, 2),
        [(date(2026, 2, 1), date(2026, 3, 2), 30, D("12.15"), D("1.00"))],
        ("100.00", "1.00", "0"),
        id="b2b-usd-no-indemnity",
    ),
    pytest.param(
        claim("189.90", date(2026, 1, 31), "consumer"),
        [],
        date(2026, 3, 31),
        [],
        ("189.90", "0", "0"),
        id="b2c-before-formal-notice",
    ),
    pytest.param(  # from the notice of 1/3: 30 days at 2.62 %: 189.90 x 0.0262 x 30 / 365 = 0.4089
        claim("189.90", date(2026, 1, 31), "consumer", formal_notice_on=date(2026, 3, 1)),
        [],
        date(2026, 3, 31),
        [(date(2026, 3, 2), date(2026, 3, 31), 30, D("2.62"), D("0.41"))],
        ("189.90", "0.41", "0"),
        id="b2c-after-formal-notice",
    ),
    pytest.param(  # private creditor column 6.67 %: 189.90 x 0.0667 x 30 / 365 = 1.0411
        claim("189.90", date(2026, 1, 31), "consumer", formal_notice_on=date(2026, 3, 1), private_creditor=True),
        [],
        date(2026, 3, 31),
        [(date(2026, 3, 2), date(2026, 3, 31), 30, D("6.67"), D("1.04"))],
        ("189.90", "1.04", "0"),
        id="b2c-private-creditor",
    ),
    pytest.param(  # a B2C part payment before the notice lowers the base: 89.90 x 0.0262 x 30 / 365 = 0.1936
        claim("189.90", date(2026, 1, 31), "consumer", formal_notice_on=date(2026, 3, 1)),
        [paid(date(2026, 2, 15), "100.00")],
        date(2026, 3, 31),
        [(date(2026, 3, 2), date(2026, 3, 31), 30, D("2.62"), D("0.19"))],
        ("89.90", "0.19", "0"),
        id="b2c-part-paid-before-notice",
    ),
]


@pytest.mark.parametrize(("the_claim", "payments", "at", "lines", "due"), STATEMENTS)
def test_statement(the_claim, payments, at, lines, due):
    result = statement(the_claim, payments, at, RATES)
    assert [(li.start, li.end, li.days, li.rate, li.amount) for li in result.interest] == lines
    assert (result.principal_due, result.interest_due, result.indemnity_due) == tuple(D(x) for x in due)
    assert result.total_due == sum((D(x) for x in due), D(0))


def test_payment_lines_show_the_imputation():
    result = statement(
        claim("2000.00", date(2026, 1, 31)), [paid(date(2026, 2, 10), "1000.00")], date(2026, 3, 2), RATES
    )
    (line,) = result.payments
    assert (line.to_interest, line.to_principal, line.to_indemnity, line.excess) == (
        D("6.66"),
        D("993.34"),
        D("0.00"),
        D("0.00"),
    )
    assert (result.interest_total, result.paid_total, result.indemnity) == (D("13.36"), D("1000.00"), D("40.00"))


def test_a_statement_over_an_unknown_half_year_fails():
    with pytest.raises(MissingRate, match="2026-07-01"):
        statement(claim("1000.00", date(2026, 6, 20)), [], date(2026, 7, 10), RATES)


@pytest.mark.parametrize(
    ("due", "kind", "acknowledged", "expected"),
    [
        (date(2026, 1, 31), "business", None, date(2031, 1, 31)),  # 5 years, L110-4
        (date(2026, 1, 31), "consumer", None, date(2028, 1, 31)),  # 2 years, L218-2
        (date(2026, 1, 31), "consumer", date(2026, 6, 15), date(2028, 6, 15)),  # part payment restarts it
        (date(2026, 1, 31), "business", date(2026, 1, 10), date(2031, 1, 31)),  # before the due date: no effect
        (date(2024, 2, 29), "consumer", None, date(2026, 2, 28)),
    ],
)
def test_limitation_date(due, kind, acknowledged, expected):
    assert limitation_date(due, CustomerKind(kind), acknowledged) == expected
