"""What a bank statement says, whatever its format: booked entries with their remittance details."""

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


class StatementRefused(ValueError):
    """The file cannot be read as a statement; the message names what is wrong. Nothing was applied."""


@dataclass(frozen=True)
class Transaction:
    """One transaction detail of an entry (a batch entry has several)."""

    amount: Decimal | None
    end_to_end_id: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None  # only a valid IBAN is kept
    remittance: str = ""  # unstructured lines and structured creditor references, joined
    return_reason: str | None = None  # ISO reason code of a returned or rejected payment (AC04, AM04, MD06…)


@dataclass(frozen=True)
class BankEntry:
    account: str
    reference: str  # the bank's own reference, or a stable hash of the entry's fields
    amount: Decimal
    currency: str
    credit: bool
    booked: bool
    booking_date: date | None
    value_date: date | None
    reversal: bool = False
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def is_return(self) -> bool:
        """A debit that gives money back: a reversal, or a payment returned with a reason code."""
        return not self.credit and (self.reversal or any(t.return_reason for t in self.transactions))


@dataclass(frozen=True)
class Statement:
    format: str  # camt.053.001.02 … camt.054.001.08, cfonb120
    statement_id: str
    account: str
    entries: list[BankEntry]


def stable_reference(*parts: object) -> str:
    """An entry without a bank reference is known by its fields: the same entry in two files hashes alike."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()
    return f"h:{digest[:24]}"
