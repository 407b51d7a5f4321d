"""What a late invoice costs under French law, and the statement of account (décompte de créance).

Pure functions over a rate table (rates/france.yaml), so every figure is reproducible and table-tested:
- B2B (Code de commerce L441-10 II, D441-5): interest from the day after the due date, no reminder
  needed, on the amount including VAT, at the contract's rate (never below 3 × the legal rate) or else
  the ECB MRO rate in force on 1 January / 1 July + 10 points, each half-year at its own rate; simple
  interest, actual days / 365; plus the €40 recovery indemnity per late invoice.
- B2C (Code civil 1344-1): legal interest from the formal notice; no indemnity (CPCE L111-8).
- Payments are imputed on interest, then principal (Code civil 1343-1), then the indemnity; a policy
  may impute on principal first.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from relance.domain.deliveries import ReminderSent
from relance.domain.invoice import CustomerKind, Strict

CENT = Decimal("0.01")
RECOVERY_INDEMNITY_EUR = Decimal("40.00")
DAYS_IN_YEAR = Decimal(365)
B2B_DEFAULT_MARGIN = Decimal("10")
B2B_FLOOR_MULTIPLE = Decimal("3")


class MissingRate(ValueError):
    """A period the rate table does not cover: never computed as zero."""


class Imputation(StrEnum):
    interest_first = "interest_first"  # Code civil 1343-1
    principal_first = "principal_first"


# ---- the rate table -----------------------------------------------------------------------------------


class RateChange(Strict):
    from_: date = Field(alias="from")
    rate: Decimal
    source: str = Field(min_length=1)


class EcbRates(Strict):
    known_through: date
    changes: list[RateChange] = Field(min_length=1)
    fetched_on: date | None = None  # the last `relance rates update`, and where it read the series
    fetched_from: str | None = None


class LegalRate(Strict):
    period: str = Field(pattern=r"^\d{4}-H[12]$")
    private_creditor: Decimal
    other: Decimal
    source: str = Field(min_length=1)


class RateTable(Strict):
    ecb_main_refinancing: EcbRates
    legal_interest: list[LegalRate]


@dataclass(frozen=True, order=True)
class HalfYear:
    year: int
    half: int  # 1 or 2

    @classmethod
    def of(cls, day: date) -> "HalfYear":
        return cls(day.year, 1 if day.month <= 6 else 2)

    @property
    def start(self) -> date:
        return date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def end(self) -> date:
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    def __str__(self) -> str:
        return f"{self.year}-H{self.half}"


def ecb_rate_on(table: RateTable, day: date) -> Decimal:
    ecb = table.ecb_main_refinancing
    if day > ecb.known_through:
        raise MissingRate(
            f"no ECB main refinancing rate known for {day} (the rate table is known through {ecb.known_through}): "
            "add the rate in force to the rates file"
        )
    in_force = [c for c in ecb.changes if c.from_ <= day]
    if not in_force:
        raise MissingRate(f"no ECB main refinancing rate in the rates file as early as {day}")
    return max(in_force, key=lambda c: c.from_).rate


def legal_rate(table: RateTable, period: HalfYear, *, private_creditor: bool = False) -> Decimal:
    for row in table.legal_interest:
        if row.period == str(period):
            return row.private_creditor if private_creditor else row.other
    raise MissingRate(f"no taux d'intérêt légal for {period} in the rates file: add the published rate")


def b2b_rate(table: RateTable, period: HalfYear, contract_rate: Decimal | None = None) -> tuple[Decimal, str]:
    """The annual percentage for the half-year, and how it was reached (printed on the statement)."""
    if contract_rate is None:
        ecb = ecb_rate_on(table, period.start)
        return ecb + B2B_DEFAULT_MARGIN, f"ECB rate {ecb} % on {period.start:%d/%m/%Y} + 10 points"
    floor = B2B_FLOOR_MULTIPLE * legal_rate(table, period)
    if contract_rate < floor:
        return floor, f"contract rate {contract_rate} % raised to 3 × the legal rate ({floor} %)"
    return contract_rate, f"contract rate {contract_rate} %"


def b2c_rate(table: RateTable, period: HalfYear, *, private_creditor: bool = False) -> tuple[Decimal, str]:
    rate = legal_rate(table, period, private_creditor=private_creditor)
    return rate, f"legal interest rate {period} ({'private creditor' if private_creditor else 'other creditors'})"


# ---- limitation ---------------------------------------------------------------------------------------


def limitation_date(due: date, debtor: CustomerKind, acknowledged_on: date | None = None) -> date:
    """The day the claim becomes time-barred: 5 years between traders (C. com. L110-4), 2 years for a
    professional's claim on a consumer (C. conso L218-2); a part payment or promise (the debtor's
    acknowledgement) starts the period again."""
    start = max(due, acknowledged_on) if acknowledged_on else due
    years = 2 if debtor is CustomerKind.consumer else 5
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


# ---- the statement of account -------------------------------------------------------------------------


class Claim(Strict):
    invoice_id: str
    currency: str
    principal: Decimal = Field(description="amount including VAT, less credit notes")
    due_date: date
    debtor: CustomerKind
    contract_rate: Decimal | None = Field(default=None, description="annual %, from the terms of sale")
    formal_notice_on: date | None = Field(default=None, description="B2C interest runs from this day")
    private_creditor: bool = False
    imputation: Imputation = Imputation.interest_first


class Paid(Strict):
    paid_on: date
    amount: Decimal
    reference: str


class InterestLine(BaseModel):
    period: str
    start: date  # first day counted
    end: date  # last day counted
    days: int
    rate: Decimal
    basis: str
    base: Decimal
    amount: Decimal


class PaymentLine(BaseModel):
    paid_on: date
    reference: str
    amount: Decimal
    to_interest: Decimal
    to_principal: Decimal
    to_indemnity: Decimal
    excess: Decimal


class Statement(BaseModel):
    invoice_id: str
    currency: str
    at: date
    due_date: date
    debtor: CustomerKind
    principal: Decimal
    interest_from: date | None
    interest_note: str
    interest: list[InterestLine]
    indemnity: Decimal
    payments: list[PaymentLine]
    principal_due: Decimal
    interest_due: Decimal
    indemnity_due: Decimal
    total_due: Decimal
    # the reminders sent and what the e-mail provider saw of them (filled from the case: starter.statements)
    reminders: list[ReminderSent] = Field(default_factory=list)

    @property
    def interest_total(self) -> Decimal:
        return sum((line.amount for line in self.interest), Decimal("0.00"))

    @property
    def paid_total(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0.00"))


def _accrue(claim: Claim, table: RateTable, principal: Decimal, after: date, through: date) -> list[InterestLine]:
    """Interest on `principal` for the days after `after` up to `through`, one line per half-year."""
    lines: list[InterestLine] = []
    cursor = after
    while cursor < through and principal > 0:
        period = HalfYear.of(cursor + timedelta(days=1))
        end = min(through, period.end)
        days = (end - cursor).days
        if claim.debtor is CustomerKind.consumer:
            rate, basis = b2c_rate(table, period, private_creditor=claim.private_creditor)
        else:
            rate, basis = b2b_rate(table, period, claim.contract_rate)
        amount = (principal * rate / 100 * days / DAYS_IN_YEAR).quantize(CENT, ROUND_HALF_UP)
        lines.append(
            InterestLine(
                period=str(period),
                start=cursor + timedelta(days=1),
                end=end,
                days=days,
                rate=rate,
                basis=basis,
                base=principal,
                amount=amount,
            )
        )
        cursor = end
    return lines


def statement(claim: Claim, payments: list[Paid], at: date, table: RateTable) -> Statement:
    """The claim as it stands at the end of day `at`: each interest period, each payment and what it paid.

    The indemnity is owed when anything is still unpaid after the due date; it is imputed last.
    """
    business = claim.debtor is CustomerKind.business
    if business:
        interest_from: date | None = claim.due_date
        note = "late-payment interest from the day after the due date (Code de commerce L441-10)"
    elif claim.formal_notice_on:
        interest_from, note = claim.formal_notice_on, "legal interest from the formal notice (Code civil 1344-1)"
    else:
        interest_from, note = None, "no interest before a formal notice (Code civil 1344-1)"
    owed = {"principal": claim.principal, "interest": Decimal("0.00"), "indemnity": Decimal("0.00")}
    indemnity = Decimal("0.00")
    lines: list[InterestLine] = []
    paid_lines: list[PaymentLine] = []
    cursor = interest_from

    def run_until(day: date) -> None:
        nonlocal cursor, indemnity
        if business and not indemnity and day > claim.due_date and owed["principal"] > 0:
            indemnity = _indemnity(claim)
            owed["indemnity"] += indemnity
        if cursor is not None and day > cursor:
            new = _accrue(claim, table, owed["principal"], cursor, day)
            lines.extend(new)
            owed["interest"] += sum((line.amount for line in new), Decimal("0.00"))
            cursor = day

    order = ("interest", "principal") if claim.imputation is Imputation.interest_first else ("principal", "interest")
    for payment in sorted((p for p in payments if p.paid_on <= at), key=lambda p: (p.paid_on, p.reference)):
        run_until(payment.paid_on)
        left, parts = payment.amount, {}
        for bucket in (*order, "indemnity"):
            parts[bucket] = min(left, owed[bucket])
            owed[bucket] -= parts[bucket]
            left -= parts[bucket]
        paid_lines.append(
            PaymentLine(
                paid_on=payment.paid_on,
                reference=payment.reference,
                amount=payment.amount,
                to_interest=parts["interest"],
                to_principal=parts["principal"],
                to_indemnity=parts["indemnity"],
                excess=left,
            )
        )
    run_until(at)
    return Statement(
        invoice_id=claim.invoice_id,
        currency=claim.currency,
        at=at,
        due_date=claim.due_date,
        debtor=claim.debtor,
        principal=claim.principal,
        interest_from=interest_from,
        interest_note=note,
        interest=lines,
        indemnity=indemnity,
        payments=paid_lines,
        principal_due=owed["principal"],
        interest_due=owed["interest"],
        indemnity_due=owed["indemnity"],
        total_due=owed["principal"] + owed["interest"] + owed["indemnity"],
    )


def _indemnity(claim: Claim) -> Decimal:
    """€40 per late invoice, businesses only (D441-5); in another currency nothing is assumed."""
    return RECOVERY_INDEMNITY_EUR if claim.currency == "EUR" else Decimal("0.00")


def statement_dict(result: Statement) -> dict[str, Any]:
    return result.model_dump(mode="json") | {
        "interest_total": str(result.interest_total),
        "paid_total": str(result.paid_total),
    }
