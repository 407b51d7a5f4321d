"""Where a bank credit goes: the invoices its remittance text names, the customer its account or name gives
away, and the amount; or a person, when nothing settles it.

Pure functions with table tests (tests/rules/test_remittance.py). Remittance text is typed by people and cut by
banks: "VIR SEPA FACT F2026-0042", "REGLT FACTURES 1204 1207", "fac 2026/0042". An invoice id is compared
on its letters and digits only, and on its digits alone when they are long enough to mean something; the
first match decides the order invoices are named in.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

MIN_DIGITS = 4  # an invoice named by its digits alone needs at least this many ("12" could be anything)
MAX_JOIN = 3  # "2026 / 0042" is one reference cut in pieces: join up to this many adjacent pieces
TOKEN = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class OpenItem:
    """An invoice the ledger knows, open or closed (a payment for a closed one is a credit, never lost)."""

    invoice_id: str
    customer_id: str
    currency: str
    balance: Decimal
    due_date: date
    closed: bool = False


@dataclass(frozen=True)
class Payer:
    iban: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Learned:
    """What earlier payments taught: which customer pays from which account, and under which name."""

    ibans: dict[str, str] = field(default_factory=dict)  # normalized IBAN -> customer id
    names: dict[str, str] = field(default_factory=dict)  # normalized name -> customer id


@dataclass(frozen=True)
class Pay:
    """Payments on cases: (invoice id, amount), in the order they apply."""

    customer_id: str
    allocations: list[tuple[str, Decimal]]
    why: str


@dataclass(frozen=True)
class Unallocated:
    """The customer is known, no invoice is: its account spreads the money (oldest due first)."""

    customer_id: str
    amount: Decimal
    why: str


@dataclass(frozen=True)
class Credit:
    """Money for a case that is already closed: recorded as an overpayment on it, for a person to refund or use."""

    customer_id: str
    invoice_id: str
    amount: Decimal
    why: str


@dataclass(frozen=True)
class Review:
    """Nothing settles it: a task lists the candidates for a person."""

    why: str
    candidates: list[str] = field(default_factory=list)


Decision = Pay | Unallocated | Credit | Review


def compact(text: str) -> str:
    """Upper-case letters and digits only, accents dropped: how ids and names are compared."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(TOKEN.findall(plain.upper()))


def normalize_iban(iban: str) -> str:
    return compact(iban)


def normalize_name(name: str) -> str:
    """A payer name as banks print it: capitals, no legal form, no punctuation."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper().replace(".", "")
    words = re.findall(r"[A-Z0-9]+", plain)
    forms = {"SA", "SAS", "SASU", "SARL", "EURL", "SNC", "SCI", "SC", "STE", "SOCIETE", "LTD", "GMBH", "M", "MME"}
    return " ".join(w for w in words if w not in forms)


def _digits(invoice_id: str) -> str:
    return "".join(ch for ch in invoice_id if ch.isdigit())


def invoice_references(text: str, invoice_ids: list[str]) -> list[str]:
    """The known invoice ids the text names, in the order it names them (each once).

    The text is cut in runs of letters and digits; up to MAX_JOIN adjacent runs are joined ("2026/0042" is
    one reference), a leading word such as FACT is dropped, and the result is compared with each id's
    letters and digits, or with its digits alone when they are unique and long enough.
    """
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    tokens = [(m.start(), m.group()) for m in TOKEN.finditer(plain)]
    by_key = {compact(i): i for i in reversed(invoice_ids)}
    digit_owners: dict[str, list[str]] = {}
    for invoice_id in invoice_ids:
        digit_owners.setdefault(_digits(invoice_id), []).append(invoice_id)
    by_digits = {d: ids[0] for d, ids in digit_owners.items() if len(d) >= MIN_DIGITS and len(ids) == 1}
    found: list[tuple[int, str]] = []
    for i, (position, _) in enumerate(tokens):
        joined = ""
        for _, piece in tokens[i : i + MAX_JOIN]:
            joined += piece
            match = by_key.get(joined) or by_key.get(_strip_prefix(joined))
            if match is None and joined.isdigit():
                match = by_digits.get(joined)
            if match is not None:
                found.append((position, match))
    ordered: list[str] = []
    for _, invoice_id in sorted(found, key=lambda f: f[0]):
        if invoice_id not in ordered:
            ordered.append(invoice_id)
    return ordered


PREFIXES = ("FACTURES", "FACTURE", "FACTURA", "INVOICE", "FACT", "FAC", "FCT", "INV", "FA", "NO", "N")


def _strip_prefix(candidate: str) -> str:
    """'FACTF20260042' -> 'F20260042': the word a person puts before a reference, glued to it by the bank."""
    for prefix in PREFIXES:
        if candidate.startswith(prefix) and len(candidate) > len(prefix):
            return candidate[len(prefix) :]
    return candidate


def decide(
    amount: Decimal,
    currency: str,
    remittance: str,
    payer: Payer,
    items: list[OpenItem],
    learned: Learned,
) -> Decision:
    """Where one booked credit goes."""
    by_id = {i.invoice_id: i for i in items}
    named = [by_id[r] for r in invoice_references(remittance, list(by_id))]
    known = _payer_customer(payer, learned)
    if named:
        customers = sorted({i.customer_id for i in named})
        if len(customers) > 1:
            return Review(f"the text names invoices of several customers ({', '.join(customers)})", _ids(named))
        customer = customers[0]
        if known is not None and known != customer:
            return Review(
                f"the payer is known as customer {known} but the text names invoices of customer {customer}",
                _ids(named),
            )
        if any(i.currency != currency for i in named):
            return Review(f"the credit is in {currency}, an invoice it names is not", _ids(named))
        open_named = [i for i in named if not i.closed]
        if not open_named:
            return Credit(customer, named[0].invoice_id, amount, f"{named[0].invoice_id} is already closed")
        others = sorted(
            (
                i
                for i in items
                if i.customer_id == customer and not i.closed and i not in open_named and i.currency == currency
            ),
            key=lambda i: (i.due_date, i.invoice_id),
        )
        return _split(customer, amount, open_named, others, f"named in the text: {', '.join(_ids(named))}")
    if known is not None:
        mine = [i for i in items if i.customer_id == known and not i.closed and i.currency == currency]
        exact = [i for i in mine if i.balance == amount]
        if len(exact) == 1:
            return Pay(known, [(exact[0].invoice_id, amount)], f"no reference; the only open invoice of {amount}")
        return Unallocated(known, amount, f"no invoice named; the payer is customer {known}")
    exact = [i for i in items if not i.closed and i.currency == currency and i.balance == amount]
    if exact:
        return Review("no invoice named and an unknown payer; open invoices of that amount", _ids(exact))
    return Review("nothing in the credit identifies an invoice or a customer")


def _payer_customer(payer: Payer, learned: Learned) -> str | None:
    if payer.iban and (customer := learned.ibans.get(normalize_iban(payer.iban))):
        return customer
    if payer.name and (customer := learned.names.get(normalize_name(payer.name))):
        return customer
    return None


def _split(customer: str, amount: Decimal, named: list[OpenItem], others: list[OpenItem], why: str) -> Pay:
    """The amount across the named invoices in the order named, then the customer's others oldest due first;
    what is left is an overpayment on the last named one (its case records it)."""
    left, allocations = amount, {}
    for item in [*named, *others]:
        if left <= 0:
            break
        part = min(left, item.balance)
        if part > 0:
            allocations[item.invoice_id] = part
            left -= part
    if left > 0:
        last = named[-1].invoice_id
        allocations[last] = allocations.get(last, Decimal(0)) + left
    return Pay(customer, list(allocations.items()), why)


def _ids(items: list[OpenItem]) -> list[str]:
    return [i.invoice_id for i in items]


# Returned payments: which payment a return undoes.


@dataclass(frozen=True)
class KnownPayment:
    """A payment a case holds and has not given back (from the bank, a person or a cheque), that a return
    may undo; `end_to_end_id` when a bank credit brought it."""

    invoice_id: str
    customer_id: str
    reference: str
    amount: Decimal
    currency: str
    end_to_end_id: str | None = None


@dataclass(frozen=True)
class Reverse:
    """The return goes back on these payments: (invoice id, payment reference, amount), in order."""

    customer_id: str
    parts: list[tuple[str, str, Decimal]]
    why: str


MAX_REFERENCE_PIECES = 8  # "B-1@2026-05-12/F-7" is one payment reference cut in eight runs
MIN_REFERENCE = 3  # a reference shorter than this ("7") could be anything in a text


def match_return(
    amount: Decimal,
    currency: str,
    end_to_end_id: str | None,
    remittance: str,
    payer: Payer,
    payments: list[KnownPayment],
    learned: Learned,
) -> Reverse | Review:
    """What a returned payment undoes, by what it says: its end-to-end id first, then a payment reference in
    its text (narrowed by the invoices the text names), then the invoices it names, then the amount and a
    payer known to be a customer. Anything else, or two candidates, is a person's call."""
    mine = [p for p in payments if p.currency == currency]
    if end_to_end_id and (by_id := [p for p in mine if p.end_to_end_id == end_to_end_id]):
        return _reverse(amount, by_id, f"end-to-end id {end_to_end_id}")
    runs = _runs(remittance)
    named = set(invoice_references(remittance, sorted({p.invoice_id for p in mine})))
    quoted = [p for p in mine if _quoted(p.reference, runs) and (not named or p.invoice_id in named)]
    if quoted:
        credits = sorted({_credit_of(p.reference) for p in quoted})
        if len(credits) == 1:
            return _reverse(amount, quoted, f"payment {credits[0]} named in the text")
        return Review("the text names several payments", _candidates(quoted))
    if named:
        exact = [p for p in mine if p.invoice_id in named and p.amount == amount]
        if len(exact) == 1:
            return _reverse(amount, exact, f"the only payment of {amount} on {exact[0].invoice_id}, named in the text")
        return Review(
            f"the text names {', '.join(sorted(named))} but no single payment of {amount} on them",
            _candidates(exact or [p for p in mine if p.invoice_id in named]),
        )
    known = _payer_customer(payer, learned)
    same = [p for p in mine if p.amount == amount and (known is None or p.customer_id == known)]
    if known is not None and len(same) == 1:
        return _reverse(amount, same, f"the only payment of {amount} by customer {known}, the payer")
    return Review("nothing in the return identifies the payment it undoes", _candidates(same))


def _runs(text: str) -> set[str]:
    """Every join of up to MAX_REFERENCE_PIECES adjacent runs of letters and digits of the text."""
    pieces = TOKEN.findall(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper())
    return {
        "".join(pieces[i:j])
        for i in range(len(pieces))
        for j in range(i + 1, min(i + MAX_REFERENCE_PIECES, len(pieces)) + 1)
    }


def _credit_of(reference: str) -> str:
    """A bank credit split over invoices records one payment per invoice, `<credit>/<invoice>`."""
    return reference.split("/", 1)[0]


def _quoted(reference: str, runs: set[str]) -> bool:
    return any(len(key := compact(r)) >= MIN_REFERENCE and key in runs for r in {reference, _credit_of(reference)})


def _reverse(amount: Decimal, payments: list[KnownPayment], why: str) -> Reverse | Review:
    customers = sorted({p.customer_id for p in payments})
    if len(customers) > 1:
        return Review(f"{why} leads to payments of several customers ({', '.join(customers)})", _candidates(payments))
    left, parts = amount, []
    for p in payments:
        part = min(p.amount, left)
        if part <= 0:
            break
        parts.append((p.invoice_id, p.reference, part))
        left -= part
    if left > 0:
        return Review(f"{why}, but the return ({amount}) is more than what it paid", _candidates(payments))
    return Reverse(customers[0], parts, why)


def _candidates(payments: list[KnownPayment]) -> list[str]:
    """The invoices a person chooses between (as a credit's review lists them)."""
    return list(dict.fromkeys(p.invoice_id for p in payments))[:10]
