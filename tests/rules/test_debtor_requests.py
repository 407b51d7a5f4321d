"""What the debtor's page may agree to alone (relance/domain/debtor_requests.py), as a table: inside the policy's
`portal` limits the request is taken, beyond them a person decides, and the task says why."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from relance.domain.actions import Installment
from relance.domain.debtor_requests import limits_of, paid_until, plan_decision, promise_decision
from relance.domain.policy import PlanRules, PortalRules
from tests.builders import POLICIES

TODAY = date(2026, 12, 7)
RULES = PortalRules(promise_days=30, promises=2, plan_installments=6, paid_days=5)


@pytest.mark.parametrize(
    ("days_ahead", "before", "why"),
    [
        (0, 0, None),
        (30, 1, None),
        (31, 0, "a promise to pay on 2027-01-07, more than 30 days ahead"),
        (7, 2, "a promise to pay on 2026-12-14, after 2 promises on this invoice"),
    ],
)
def test_a_promise_is_taken_within_the_limits(days_ahead: int, before: int, why: str | None) -> None:
    decided = promise_decision(RULES, TODAY, TODAY + timedelta(days=days_ahead), before)
    assert (decided.why if decided else None) == why


def plan(count: int, first_in: int = 10) -> list[Installment]:
    return [Installment(due_on=TODAY + timedelta(days=first_in + 30 * n), amount=Decimal("100")) for n in range(count)]


@pytest.mark.parametrize(
    ("installments", "plan_rules", "why"),
    [
        (plan(6), PlanRules(), None),
        (plan(7), PlanRules(), "a payment plan of 7 installments, more than the 6 the page agrees to"),
        (
            plan(5),
            PlanRules(max_installments=4),
            "a payment plan of 5 installments, more than the 4 the page agrees to",
        ),
        (plan(2, first_in=31), PlanRules(), "a payment plan starting on 2027-01-07, more than 30 days ahead"),
    ],
)
def test_a_plan_is_taken_within_the_limits(
    installments: list[Installment], plan_rules: PlanRules, why: str | None
) -> None:
    decided = plan_decision(RULES, plan_rules, TODAY, installments)
    assert (decided.why if decided else None) == why


def test_no_plan_is_taken_alone_when_the_policy_says_zero() -> None:
    decided = plan_decision(RULES.model_copy(update={"plan_installments": 0}), PlanRules(), TODAY, plan(1))
    assert decided is not None and "more than the 0" in decided.why


def test_paid_waits_the_policys_days_and_an_unknown_policy_has_the_defaults() -> None:
    assert paid_until(RULES, TODAY) == date(2026, 12, 12)
    assert limits_of(None) == (PortalRules(), PlanRules())
    policy = next(iter(POLICIES.values()))
    assert limits_of(policy) == (policy.portal, policy.payment_plan)


def test_a_plans_schedule_says_which_installments_are_paid_late_or_due() -> None:
    from relance.domain.arrangements import PlanState

    agreed = PlanState(number=1, installments=plan(3), paid_before=Decimal("50"))
    states = [state for _, state in agreed.schedule(Decimal("150"), TODAY + timedelta(days=45))]
    assert states == ["paid", "late", "due"]  # 100 paid since the plan: the first; the second was due on day 40
    assert [s for _, s in agreed.schedule(Decimal("349.99"), TODAY)] == ["paid", "paid", "due"]
