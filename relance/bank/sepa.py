"""pain.008: a SEPA direct debit file for the bank, written with `sepaxml` and checked by it against the
schema it ships (pain.008.001.08, the 2019 rulebook's version French banks take)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sepaxml import SepaDD

from relance.domain.direct_debit import DebitMandate

SCHEMA = "pain.008.001.08"


@dataclass(frozen=True)
class Creditor:
    name: str
    iban: str
    creditor_id: str  # identifiant créancier SEPA (ICS), e.g. FR12ZZZ123456
    bic: str | None = None


@dataclass(frozen=True)
class Debit:
    mandate: DebitMandate
    amount: Decimal
    currency: str
    collect_on: date
    end_to_end_id: str
    description: str


class SepaRefused(ValueError):
    """The debit cannot be written as given (the message says why); nothing was written."""


def pain008(creditor: Creditor, debit: Debit) -> bytes:
    """One re-presented debit (sequence type RCUR: the mandate was used before) as a validated pain.008."""
    if debit.currency != "EUR":
        raise SepaRefused(f"a SEPA direct debit is in EUR, not {debit.currency}")
    cents = debit.amount * 100
    if cents != cents.to_integral_value() or cents <= 0:
        raise SepaRefused(f"amount {debit.amount} is not a positive amount in cents")
    config = {"name": creditor.name, "IBAN": creditor.iban, "batch": True, "creditor_id": creditor.creditor_id,
              "currency": "EUR", "instrument": "CORE"}  # fmt: skip
    if creditor.bic:
        config["BIC"] = creditor.bic
    sepa = SepaDD(config, schema=SCHEMA, clean=True)
    payment = {
        "name": debit.mandate.debtor_name,
        "IBAN": debit.mandate.iban,
        "amount": int(cents),
        "type": "RCUR",
        "collection_date": debit.collect_on,
        "mandate_id": debit.mandate.umr,
        "mandate_date": debit.mandate.signed_on,
        "description": debit.description,
        "endtoend_id": debit.end_to_end_id,
    }
    if debit.mandate.bic:
        payment["BIC"] = debit.mandate.bic
    try:
        sepa.add_payment(payment)
        return bytes(sepa.export(validate=True, pretty_print=True))
    except Exception as exc:  # sepaxml raises bare Exceptions and its ValidationError for bad values
        raise SepaRefused(f"the pain.008 does not validate: {exc} ({exc.__cause__ or ''})") from exc
