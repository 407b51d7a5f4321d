"""A customer's payment risk from their own history: a score, a level, and the reasons in words.

Points (0 = no sign of risk, capped at 100), each a plain rule a credit manager can check:
- lateness when paying: 1 point per average day late, rounded half up (at most 40);
- trend: the last three payments later than the average by 10 days or more: +15 (earlier by 10: -10);
- broken promises: 10 each (at most 30);
- disputes: 5 each (at most 15);
- open balance overdue: 10 when above 10 000, 5 when above 2 000 (in the invoices' currency);
- a new relationship (first invoice less than 180 days ago): +10 — little history is itself a risk;
- causes of lateness a person recorded (relance.domain.lateness): insolvency proceedings +40, cash-flow
  difficulty 10 per invoice (at most 20); forgetting, a billing error or a missing purchase order add nothing.
Level: high from 50, medium from 25, low below.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class RiskLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


@dataclass(frozen=True)
class PaymentBehaviour:
    as_of: date
    first_invoice_on: date | None
    days_late_per_payment: list[int] = field(default_factory=list)  # oldest first
    broken_promises: int = 0
    disputes: int = 0
    overdue_balance: Decimal = Decimal(0)
    lateness_causes: list[str] = field(default_factory=list)  # one per invoice whose cause is known


@dataclass(frozen=True)
class RiskAssessment:
    score: int
    level: RiskLevel
    reasons: list[str]


def assess(behaviour: PaymentBehaviour) -> RiskAssessment:
    points = 0
    reasons: list[str] = []
    late = behaviour.days_late_per_payment
    if late:
        average = Decimal(sum(late)) / len(late)
        lateness = min(40, int(average.quantize(Decimal(1), ROUND_HALF_UP)))
        points += lateness
        reasons.append(f"pays {average:.1f} days late on average over {len(late)} payments (+{lateness})")
        if len(late) > 3:
            recent = Decimal(sum(late[-3:])) / 3
            if recent >= average + 10:
                points += 15
                reasons.append(f"getting later: the last three payments average {recent:.1f} days late (+15)")
            elif recent <= average - 10:
                points -= 10
                reasons.append(f"improving: the last three payments average {recent:.1f} days late (-10)")
    else:
        reasons.append("no payment history yet")
    if behaviour.broken_promises:
        broken = min(30, 10 * behaviour.broken_promises)
        points += broken
        reasons.append(f"{behaviour.broken_promises} broken promise(s) to pay (+{broken})")
    if behaviour.disputes:
        disputed = min(15, 5 * behaviour.disputes)
        points += disputed
        reasons.append(f"{behaviour.disputes} dispute(s) (+{disputed})")
    if behaviour.overdue_balance > 10_000:
        points += 10
        reasons.append(f"{behaviour.overdue_balance} overdue (+10)")
    elif behaviour.overdue_balance > 2_000:
        points += 5
        reasons.append(f"{behaviour.overdue_balance} overdue (+5)")
    if behaviour.first_invoice_on is None or (behaviour.as_of - behaviour.first_invoice_on).days < 180:
        points += 10
        reasons.append("new relationship: first invoice less than 180 days ago (+10)")
    insolvent = behaviour.lateness_causes.count("insolvency")
    if insolvent:
        points += 40
        reasons.append(f"insolvency proceedings reported on {insolvent} invoice(s) (+40)")
    short = behaviour.lateness_causes.count("cash_flow")
    if short:
        added = min(20, 10 * short)
        points += added
        reasons.append(f"cash-flow difficulty reported on {short} invoice(s) (+{added})")
    score = max(0, min(100, points))
    level = RiskLevel.high if score >= 50 else RiskLevel.medium if score >= 25 else RiskLevel.low
    return RiskAssessment(score=score, level=level, reasons=reasons)
