"""One voice per customer, in the ledger: a case with no other open case of its customer writes alone, after
claiming the customer's day; the customer's account claims the same day before a message of its own. The
claim is a row under a unique key (customer, day), so two writers at the same instant cannot both win.

The customer's hold lives here too. The account is not told of each new case (since quiet-open-v1): it
records its hold, then lists the customer's open cases to tell them; a case writes its row, then reads the
hold. Each writes before it reads, so of a case opening while a hold is set, one of the two sees the other
(or both do: a case takes the same hold twice as once)."""

from datetime import date

from sqlalchemy import Connection, Engine, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relance.domain.account import CaseOpened, CustomerHoldNotice
from relance.ledger.db import CaseRow, CustomerDay, CustomerHoldRow, utcnow

# Built once (every case runs them when it opens, and before it speaks alone): built per call, with a session
# each, they cost more CPU than the database's work.
_OPEN = select(func.count()).select_from(CaseRow).where(*CaseRow.open_of(bindparam("customer")))
_OTHERS_OPEN = _OPEN.where(CaseRow.case_id != bindparam("case"))
_CLAIM = insert(CustomerDay)
_HOLD = select(CustomerHoldRow.kind, CustomerHoldRow.reason, CustomerHoldRow.until, CustomerHoldRow.by).where(
    CustomerHoldRow.customer_id == bindparam("customer")
)


def others_open(engine: Engine, customer_id: str, case_id: str | None) -> int:
    """How many open cases the customer has besides `case_id` (None: all of them), as the ledger knows them (a
    case's row is written when it opens, before its first step)."""
    with engine.connect() as connection:
        return _count_open(connection, customer_id, case_id)


def _count_open(connection: Connection, customer_id: str, case_id: str | None) -> int:
    if case_id is None:
        return connection.scalar(_OPEN, {"customer": customer_id}) or 0
    return connection.scalar(_OTHERS_OPEN, {"customer": customer_id, "case": case_id}) or 0


def what_a_new_case_reads(engine: Engine, customer_id: str, case_id: str) -> tuple[int, CustomerHoldNotice | None]:
    """What a case reads once its row is written: the customer's other open cases, and its hold (one connection)."""
    with engine.connect() as connection:
        return _count_open(connection, customer_id, case_id), _hold_of(connection, customer_id)


def customer_hold(engine: Engine, customer_id: str) -> CustomerHoldNotice | None:
    with engine.connect() as connection:
        return _hold_of(connection, customer_id)


def _hold_of(connection: Connection, customer_id: str) -> CustomerHoldNotice | None:
    row = connection.execute(_HOLD, {"customer": customer_id}).first()
    return None if row is None else CustomerHoldNotice(kind=row.kind, reason=row.reason, until=row.until, by=row.by)


def claim_day(engine: Engine, customer_id: str, day: date, key: str) -> str | None:
    """None when `key` holds the customer's day (claimed now, or by an earlier try of the same message); else
    the key of the message that already wrote to the customer that day."""
    try:
        with engine.begin() as connection:
            connection.execute(_CLAIM, {"customer_id": customer_id, "day": day, "claimed_by": key})
    except IntegrityError:
        with Session(engine) as session:
            holder = session.get(CustomerDay, (customer_id, day))
        if holder is None:  # released in between: try once more
            return claim_day(engine, customer_id, day, key)
        return None if holder.claimed_by == key else holder.claimed_by
    return None


def open_cases_of_customer(engine: Engine, customer_id: str) -> list[CaseOpened]:
    """The customer's open cases, oldest due first (each case's row is written when it opens)."""
    with Session(engine) as session:
        rows = session.execute(
            select(CaseRow.case_id, CaseRow.invoice_id, CaseRow.due_date, CaseRow.currency)
            .where(*CaseRow.open_of(customer_id))
            .order_by(CaseRow.due_date, CaseRow.invoice_id)
        ).all()
    return [CaseOpened(case_id=c, invoice_id=i, due_date=d, currency=cur) for c, i, d, cur in rows]


def set_customer_hold(engine: Engine, customer_id: str, hold: CustomerHoldNotice | None) -> list[CaseOpened]:
    """Record the account's hold (None: it ended), then list the open cases it must reach."""
    with Session(engine) as session, session.begin():
        row = session.get(CustomerHoldRow, customer_id)
        if hold is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(CustomerHoldRow(customer_id=customer_id, since=utcnow(), **hold.model_dump()))
        else:
            for field, value in hold.model_dump().items():
                setattr(row, field, value)
    return open_cases_of_customer(engine, customer_id)
