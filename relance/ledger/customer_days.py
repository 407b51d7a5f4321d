"""One voice per customer, in the ledger: a case with no other open case of its customer writes alone, after
claiming the customer's day; the customer's account claims the same day before a message of its own. The
claim is a row under a unique key (customer, day), so two writers at the same instant cannot both win."""

from datetime import date

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relance.ledger.db import CaseRow, CustomerDay


def others_open(engine: Engine, customer_id: str, case_id: str) -> int:
    """How many other open cases the customer has, as the ledger knows them (a case's row is written when it
    opens, before its first step)."""
    with Session(engine) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(CaseRow)
                .where(CaseRow.customer_id == customer_id, CaseRow.case_id != case_id, CaseRow.outcome.is_(None))
            )
            or 0
        )


def claim_day(engine: Engine, customer_id: str, day: date, key: str) -> str | None:
    """None when `key` holds the customer's day (claimed now, or by an earlier try of the same message); else
    the key of the message that already wrote to the customer that day."""
    try:
        with Session(engine) as session, session.begin():
            session.add(CustomerDay(customer_id=customer_id, day=day, claimed_by=key))
    except IntegrityError:
        with Session(engine) as session:
            holder = session.get(CustomerDay, (customer_id, day))
        if holder is None:  # released in between: try once more
            return claim_day(engine, customer_id, day, key)
        return None if holder.claimed_by == key else holder.claimed_by
    return None
