"""SEPA direct debit mandates, kept per customer: entered by a person (`relance mandate add`), read by the
bank import when a direct debit comes back, so that the case can present it again on the same mandate."""

import re
from datetime import date

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relance.domain.direct_debit import UMR, DebitMandate
from relance.ledger.db import MandateRow, revoke


class MandateRefused(ValueError):
    """The mandate cannot be kept as given; the message names the field."""


def add_mandate(
    engine: Engine,
    *,
    customer_id: str,
    umr: str,
    signed_on: date,
    iban: str,
    debtor_name: str,
    bic: str | None = None,
    today: date,
    by: str | None = None,
) -> MandateRow:
    """Keep a mandate after checking what a bank would refuse: the UMR's characters, the IBAN (check digits
    and the country's format, with schwifty), the BIC, a signature date that is not in the future."""
    if not re.fullmatch(UMR, umr):
        raise MandateRefused(f"umr {umr!r}: 1 to 35 characters of the SEPA set (letters, digits, +?/:().,' -)")
    try:
        account = IBAN(iban)
    except SchwiftyException as exc:
        raise MandateRefused(f"iban {iban!r} is not a valid IBAN: {exc}") from None
    if bic is not None:
        try:
            bic = str(BIC(bic))
        except SchwiftyException as exc:
            raise MandateRefused(f"bic {bic!r} is not a valid BIC: {exc}") from None
    if signed_on > today:
        raise MandateRefused(f"signed_on {signed_on} is in the future (today is {today})")
    if not customer_id.strip() or not debtor_name.strip():
        raise MandateRefused("customer and debtor name are required")
    row = MandateRow(umr=umr, customer_id=customer_id, debtor_name=debtor_name.strip(), iban=account.compact,
                     bic=bic, signed_on=signed_on, created_by=by)  # fmt: skip
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
    except IntegrityError:
        raise MandateRefused(f"umr {umr!r} is already kept (revoke it first to replace it)") from None
    return row


def revoke_mandate(engine: Engine, umr: str) -> bool:
    """False when no active mandate has that UMR."""
    return revoke(engine, MandateRow.umr, umr)


def list_mandates(engine: Engine, customer_id: str | None = None) -> list[MandateRow]:
    query = select(MandateRow).order_by(MandateRow.customer_id, MandateRow.signed_on)
    if customer_id is not None:
        query = query.where(MandateRow.customer_id == customer_id)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(query).all())


def mandate_for(engine: Engine, customer_id: str, umr: str | None) -> DebitMandate | None:
    """The active mandate a returned debit was drawn on: the one it names, if it is this customer's; else
    the customer's only active mandate when the return says it was a direct debit (umr None: not said)."""
    with Session(engine) as session:
        active = session.scalars(
            select(MandateRow).where(MandateRow.customer_id == customer_id, MandateRow.revoked_at.is_(None))
        ).all()
    chosen = [m for m in active if m.umr == umr] if umr else list(active)
    if len(chosen) != 1:
        return None
    m = chosen[0]
    return DebitMandate(umr=m.umr, signed_on=m.signed_on, iban=m.iban, bic=m.bic, debtor_name=m.debtor_name)
