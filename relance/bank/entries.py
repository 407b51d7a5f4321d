"""What a bank statement says, whatever its format: booked entries with their remittance details, each
under a key that names one movement of one account in every file that reports it.

The key is what makes an import idempotent, so it is built from what the bank says of the movement itself
(its reference and date, or, where the bank gives no reference, every field of the movement), never from the
file's layout. Two distinct movements of one file never share a key (`distinct_keys`); the same movement
in two overlapping statements, or in the CAMT.053 and CAMT.054 of one day, gets the same key.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
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
    mandate_id: str | None = None  # the SEPA mandate (UMR) of a direct debit
    direct_debit: bool = False  # the bank says it is a direct debit (its code, or a mandate named)
    fee: Decimal = Decimal(0)  # the bank's charges on it (a return's fee)
    fee_included: bool = False  # the charges are inside the entry's amount


@dataclass(frozen=True)
class BankEntry:
    account: str
    reference: str  # the entry's key: unique in its file, the same in every file reporting the movement
    amount: Decimal
    currency: str
    credit: bool
    booked: bool
    booking_date: date | None
    value_date: date | None
    reversal: bool = False
    transactions: list[Transaction] = field(default_factory=list)
    bank_reference: str | None = None  # what the bank calls it (AcctSvcrRef, CFONB entry number), if anything
    aliases: tuple[str, ...] = ()  # keys earlier versions of the reader gave this entry (ledgers keep them)

    @property
    def is_return(self) -> bool:
        """A debit that gives money back: a reversal, or a payment returned with a reason code."""
        return not self.credit and (self.reversal or any(t.return_reason for t in self.transactions))

    @property
    def comes_back_to_us(self) -> bool:
        """A credit that is not a customer paying: one of our own debits reversed, or our transfer returned."""
        return self.credit and (self.reversal or any(t.return_reason for t in self.transactions))

    @property
    def fingerprint(self) -> str:
        """What must not differ between two reports of one movement: direction, amount, currency, date."""
        day = self.booking_date or self.value_date
        return f"{'C' if self.credit else 'D'} {self.amount} {self.currency} {day.isoformat() if day else '-'}"


@dataclass(frozen=True)
class Statement:
    format: str  # camt.053.001.02 … camt.054.001.10, cfonb120, csv
    statement_id: str
    account: str  # the first account; a file may report several (each entry names its own)
    entries: list[BankEntry]


def stable_reference(*parts: object) -> str:
    """An entry without a bank reference is known by its fields: the same entry in two files hashes alike."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()
    return f"h:{digest[:24]}"


def distinct_keys(entries: list[BankEntry]) -> list[BankEntry]:
    """Entries of one file that still share a key are distinct movements (a bank lists a movement once per
    file): the second and later ones take their rank among them, which overlapping files give alike."""
    counts = Counter((e.account, e.reference) for e in entries)
    seen: Counter[tuple[str, str]] = Counter()
    result = []
    for entry in entries:
        key = (entry.account, entry.reference)
        seen[key] += 1
        if counts[key] > 1 and seen[key] > 1:
            entry = replace(entry, reference=f"{entry.reference}#{seen[key]}")
        result.append(entry)
    return result


NOT_PROVIDED = {"NOTPROVIDED", "NOT PROVIDED", "NONREF"}


def provided(text: str | None) -> str | None:
    """A reference field banks fill with a placeholder when there is none says nothing."""
    return None if text is None or text.strip().upper() in NOT_PROVIDED or not text.strip() else text.strip()


@dataclass(frozen=True)
class Prior:
    """An entry the ledger already has that may be this one: same key, a key an older reader gave it, or
    the same bank reference. `fingerprint` is None for entries kept before fingerprints were."""

    reference: str
    statement: str
    fingerprint: str | None
    credit: bool
    amount: Decimal
    currency: str
    booking_date: date | None
    bank_reference: str | None


@dataclass(frozen=True)
class Conflict:
    """The ledger has an entry this one may be, and they disagree: a person decides, nothing is applied."""

    why: str


SEEN = "seen"  # under its own key (a batch's parts under key/n: those missing are still to apply)
SEEN_UNDER_OLDER_KEY = "seen under an older key"  # kept by an older reader: the whole entry was applied


def prior_verdict(entry: BankEntry, priors: list[Prior], statement: str) -> str | Conflict | None:
    """SEEN (or SEEN_UNDER_OLDER_KEY) when the ledger has this very movement, a Conflict when it has one this
    may be but that says otherwise, None when the entry is new. An "already seen" is checked, never trusted on
    the key alone."""

    def under(reference: str, key: str) -> bool:
        return reference == key or reference.startswith(f"{key}/")  # a batch's parts are key/1, key/2…

    same_key = [p for p in priors if under(p.reference, entry.reference)]
    if same_key:
        differing = next((p for p in same_key if p.fingerprint not in (None, entry.fingerprint)), None)
        if differing is None:
            return SEEN
        return Conflict(
            f"entry {entry.reference} was imported from {differing.statement} as {differing.fingerprint}; "
            f"this file says {entry.fingerprint}"
        )
    for p in priors:  # kept by an older reader under another key: the same movement if its fields agree
        if p.fingerprint is None and any(under(p.reference, alias) for alias in entry.aliases):
            part = p.reference not in entry.aliases
            agrees = (p.credit, p.currency, p.booking_date) == (entry.credit, entry.currency, entry.booking_date)
            if agrees and (part or p.amount == entry.amount):
                return SEEN_UNDER_OLDER_KEY
    undated = entry.fingerprint.rsplit(" ", 1)[0]  # direction, amount, currency
    redated = [
        p
        for p in priors
        if entry.bank_reference and p.bank_reference == entry.bank_reference and p.statement != statement
        and p.fingerprint and p.fingerprint.rsplit(" ", 1)[0] == undated
    ]  # fmt: skip
    if redated:
        return Conflict(
            f"the bank's reference {entry.bank_reference} was imported from {redated[0].statement} as "
            f"{redated[0].fingerprint}; this file says {entry.fingerprint}: the same movement, or another?"
        )
    return None
