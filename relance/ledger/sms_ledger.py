"""What the ledger keeps of SMS: each one sent (a status or a reply finds its case by it) and the numbers that
answered STOP (checked right before every SMS)."""

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from relance.ledger.db import SmsMessage, SmsOptOut


def remember_sms(engine: Engine, provider_id: str, message_key: str, case_id: str, phone: str) -> None:
    with Session(engine) as session, session.begin():
        if session.get(SmsMessage, provider_id) is None:
            session.add(SmsMessage(provider_id=provider_id, message_key=message_key, case_id=case_id, phone=phone))


def sms_sent(engine: Engine, provider_id: str) -> SmsMessage | None:
    with Session(engine) as session:
        return session.get(SmsMessage, provider_id)


def cases_texted(engine: Engine, phone: str) -> list[str]:
    """The cases that sent an SMS to this number (the latest first, once each)."""
    with Session(engine) as session:
        rows = session.scalars(
            select(SmsMessage.case_id).where(SmsMessage.phone == phone).order_by(SmsMessage.created_at.desc())
        ).all()
    return list(dict.fromkeys(rows))


def opt_out(engine: Engine, phone: str, said: str) -> bool:
    """Record a STOP; False when the number had already stopped."""
    with Session(engine) as session, session.begin():
        if session.get(SmsOptOut, phone) is not None:
            return False
        session.add(SmsOptOut(phone=phone, said=said[:200]))
        return True


def opted_out(engine: Engine, phone: str) -> datetime | None:
    """When the number answered STOP, if it did."""
    with Session(engine) as session:
        row = session.get(SmsOptOut, phone)
        return row.created_at if row is not None else None
