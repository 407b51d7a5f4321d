"""What the debtor's own page may agree to alone, pure: a request inside the policy's `portal` limits becomes the
ops action at once; one beyond them goes to a person, whose answer the debtor then reads on the page and by
e-mail. Table-tested in tests/rules/test_debtor_requests.py; the page (relance/api/portal.py) asks here."""

from dataclasses import dataclass
from datetime import date, timedelta

from relance.domain.actions import Installment
from relance.domain.policy import PlanRules, Policy, PortalRules


@dataclass(frozen=True)
class ToPerson:
    """The page may not decide this alone; `why` is what the person's task says."""

    why: str


def limits_of(policy: Policy | None) -> tuple[PortalRules, PlanRules]:
    """The page's limits for a case under `policy` (the defaults when the case's policy is not known here)."""
    if policy is None:
        return PortalRules(), PlanRules()
    return policy.portal, policy.payment_plan


def promise_decision(rules: PortalRules, today: date, promised_on: date, promises_before: int) -> ToPerson | None:
    """None when the page takes the promise alone: not too far ahead, and not one promise too many."""
    if promised_on > today + timedelta(days=rules.promise_days):
        return ToPerson(f"a promise to pay on {promised_on}, more than {rules.promise_days} days ahead")
    if promises_before >= rules.promises:
        return ToPerson(f"a promise to pay on {promised_on}, after {promises_before} promises on this invoice")
    return None


def plan_decision(rules: PortalRules, plan: PlanRules, today: date, installments: list[Installment]) -> ToPerson | None:
    """None when the page takes the plan alone: no more installments than both limits, the first within the days
    a promise may reach."""
    most = min(rules.plan_installments, plan.max_installments)
    if len(installments) > most:
        return ToPerson(f"a payment plan of {len(installments)} installments, more than the {most} the page agrees to")
    first = min(i.due_on for i in installments)
    if first > today + timedelta(days=rules.promise_days):
        return ToPerson(f"a payment plan starting on {first}, more than {rules.promise_days} days ahead")
    return None


def paid_until(rules: PortalRules, today: date) -> date:
    """The day the chase resumes after "I have paid", unless the bank confirmed the payment by then."""
    return today + timedelta(days=rules.paid_days)
