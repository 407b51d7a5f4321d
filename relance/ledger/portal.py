"""Links to a debtor's page as the ledger knows them: withdrawn (every link of the customer signed before the
moment recorded here no longer opens it), and short codes for SMS and letters (`/p/<code>`), which expire and are
withdrawn as signed links are. relance/domain/portal_links.py signs and reads the long ones."""

import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from relance.domain.portal_links import LinkExpired, LinkInvalid, LinkRevoked, open_link, signed_customer
from relance.ledger.db import PortalRevocation, PortalShortLink

SHORT_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: typed from a letter without doubt
SHORT_LENGTH = 12  # 31^12, about 2^59: not found by trying, at the page's rate limits
SHORT_CODE = re.compile(rf"^[{SHORT_ALPHABET}]{{{SHORT_LENGTH}}}$")


def read_link(engine: Engine, secret: str, token: str, max_days: int) -> tuple[str, str]:
    """The customer the link (signed, or a short code) opens the page of, and its language; a LinkRefused
    subclass when it opens none."""
    if SHORT_CODE.match(token):
        customer, lang, made_at = _short(engine, token)
        if datetime.now(UTC) - made_at > timedelta(days=max_days):
            raise LinkExpired("this link has expired")
    else:
        customer, made_at, lang = open_link(secret, token, max_days)
    _not_revoked(engine, customer, made_at)
    return customer, lang


def link_owner(engine: Engine, secret: str, token: str) -> tuple[str, str]:
    """The customer and language of a link of ours, however old or withdrawn (a fresh one goes to the address on
    file); LinkInvalid when it is not ours."""
    if SHORT_CODE.match(token):
        customer, lang, _ = _short(engine, token)
        return customer, lang
    return signed_customer(secret, token)


def _short(engine: Engine, code: str) -> tuple[str, str, datetime]:
    with Session(engine) as session:
        row = session.get(PortalShortLink, code)
    if row is None:
        raise LinkInvalid("this link is not valid")
    return row.customer_id, row.lang, row.created_at


def _not_revoked(engine: Engine, customer: str, made_at: datetime) -> None:
    with Session(engine) as session:
        revoked = session.get(PortalRevocation, customer)
    if revoked is not None and made_at <= revoked.revoked_at:
        raise LinkRevoked("this link was withdrawn")


def short_link(engine: Engine, customer_id: str, lang: str, max_days: int) -> str:
    """A short code for the customer's page: the newest one still good for half the links' life (a retried SMS
    or letter prints the same), else a new one."""
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        revoked = session.get(PortalRevocation, customer_id)
        newest = session.scalars(
            select(PortalShortLink)
            .where(PortalShortLink.customer_id == customer_id, PortalShortLink.lang == lang)
            .order_by(PortalShortLink.created_at.desc())
            .limit(1)
        ).first()
        fresh_enough = newest is not None and now - newest.created_at < timedelta(days=max_days / 2)
        if newest is not None and fresh_enough and (revoked is None or newest.created_at > revoked.revoked_at):
            return newest.code
        code = "".join(secrets.choice(SHORT_ALPHABET) for _ in range(SHORT_LENGTH))
        if revoked is not None and now <= revoked.revoked_at:  # withdrawn within this second: made just after
            now = revoked.revoked_at + timedelta(microseconds=1)
        session.add(PortalShortLink(code=code, customer_id=customer_id, lang=lang, created_at=now))
        return code


def revoke_links(engine: Engine, customer_id: str) -> datetime:
    """Every link of the customer made until now stops working, signed or short (links are dated to the second:
    those signed in the next second are void too)."""
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    with Session(engine) as session, session.begin():
        row = session.get(PortalRevocation, customer_id)
        if row is None:
            session.add(PortalRevocation(customer_id=customer_id, revoked_at=now))
        else:
            row.revoked_at = now
    return now
