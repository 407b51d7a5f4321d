"""The risk score, rule by rule (see relance/domain/risk.py for the points)."""

from datetime import date
from decimal import Decimal

import pytest

from relance.domain.risk import PaymentBehaviour, RiskLevel, assess

TODAY = date(2026, 11, 25)
OLD = date(2024, 1, 10)  # a relationship of almost three years


def behaviour(late=(), *, first=OLD, broken=0, disputes=0, overdue="0", causes=()) -> PaymentBehaviour:
    return PaymentBehaviour(
        as_of=TODAY,
        first_invoice_on=first,
        days_late_per_payment=list(late),
        broken_promises=broken,
        disputes=disputes,
        overdue_balance=Decimal(overdue),
        lateness_causes=list(causes),
    )


@pytest.mark.parametrize(
    ("label", "given", "score", "level"),
    [
        ("punctual old customer", behaviour([0, 0, 2, 0]), 1, RiskLevel.low),  # average 0.5, rounded half up
        ("new customer, nothing known", behaviour(first=None), 10, RiskLevel.low),
        ("new customer paying on time", behaviour([0], first=date(2026, 9, 1)), 10, RiskLevel.low),
        ("average 20 days late", behaviour([10, 30, 20]), 20, RiskLevel.low),
        ("average 30 days late", behaviour([30, 30]), 30, RiskLevel.medium),
        ("lateness is capped at 40", behaviour([90, 90]), 40, RiskLevel.medium),
        ("getting later", behaviour([0, 0, 0, 0, 20, 20, 20]), 24, RiskLevel.low),  # 8.6 -> 9 + 15
        ("improving", behaviour([40, 40, 40, 10, 10, 10]), 15, RiskLevel.low),  # 25 - 10
        ("two broken promises", behaviour([5], broken=2), 25, RiskLevel.medium),
        ("broken promises capped at 30", behaviour([5], broken=5), 35, RiskLevel.medium),
        ("disputes capped at 15", behaviour([0], disputes=4), 15, RiskLevel.low),
        ("large overdue balance", behaviour([0], overdue="12000.00"), 10, RiskLevel.low),
        ("medium overdue balance", behaviour([0], overdue="2500.00"), 5, RiskLevel.low),
        ("late, broken promise, new", behaviour([35], first=date(2026, 8, 1), broken=1), 55, RiskLevel.high),
        ("insolvency proceedings", behaviour([0], causes=["insolvency"]), 40, RiskLevel.medium),
        ("insolvency and late", behaviour([15], causes=["insolvency", "forgot"]), 55, RiskLevel.high),
        ("one cash-flow difficulty", behaviour([0], causes=["cash_flow"]), 10, RiskLevel.low),
        ("cash-flow capped at 20", behaviour([0], causes=["cash_flow"] * 3), 20, RiskLevel.low),
        (
            "causes that are no sign of risk",
            behaviour([0], causes=["forgot", "billing_error", "awaiting_po"]),
            0,
            RiskLevel.low,
        ),
        ("everything at once", behaviour([60, 60], broken=4, disputes=5, overdue="20000"), 95, RiskLevel.high),
    ],
)
def test_score(label, given, score, level):
    result = assess(given)
    assert (result.score, result.level) == (score, level), result.reasons


def test_reasons_are_words():
    result = assess(behaviour([35], first=date(2026, 8, 1), broken=1))
    assert result.reasons == [
        "pays 35.0 days late on average over 1 payments (+35)",
        "1 broken promise(s) to pay (+10)",
        "new relationship: first invoice less than 180 days ago (+10)",
    ]
