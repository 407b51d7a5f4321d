"""The files the bank watch took from its folder, by content: a file dropped twice under two names is known,
and which accounts sent a statement on which day tells when one is missing."""

from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from relance.ledger.db import BankFileRow

TAKEN = ("imported",)  # outcomes whose content must not be taken again


def file_taken(engine: Engine, sha256: str) -> BankFileRow | None:
    """The earlier file of the same content that was imported, if any."""
    with Session(engine, expire_on_commit=False) as session:
        return session.scalar(
            select(BankFileRow).where(BankFileRow.sha256 == sha256, BankFileRow.outcome.in_(TAKEN)).limit(1)
        )


def record_file(engine: Engine, **fields: Any) -> None:
    with Session(engine) as session, session.begin():
        session.add(BankFileRow(**fields))


def accounts_on(engine: Engine, day: date) -> set[str]:
    """The accounts a statement was imported for on that day."""
    with Session(engine) as session:
        rows = session.scalars(
            select(BankFileRow.accounts).where(BankFileRow.received_on == day, BankFileRow.outcome == "imported")
        ).all()
    return {account for accounts in rows for account in accounts or []}
