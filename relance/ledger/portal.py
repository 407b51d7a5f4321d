"""Withdrawing the links to a debtor's page: every link of the customer signed before the moment recorded here no
longer opens it (relance/domain/portal_links.py signs and reads them)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from relance.domain.portal_links import LinkRevoked, open_link
from relance.ledger.db import PortalRevocation


def read_link(engine: Engine, secret: str, token: str, max_days: int) -> tuple[str, str]:
    """The customer the link opens the page of, and its language; a LinkRefused subclass when it opens none."""
    customer, signed_at, lang = open_link(secret, token, max_days)
    with Session(engine) as session:
        revoked = session.get(PortalRevocation, customer)
    if revoked is not None and signed_at <= revoked.revoked_at:
        raise LinkRevoked("this link was withdrawn")
    return customer, lang


def revoke_links(engine: Engine, customer_id: str) -> datetime:
    """Every link of the customer signed until now stops working (links are dated to the second: those signed
    in the next second are void too)."""
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    with Session(engine) as session, session.begin():
        row = session.get(PortalRevocation, customer_id)
        if row is None:
            session.add(PortalRevocation(customer_id=customer_id, revoked_at=now))
        else:
            row.revoked_at = now
    return now
