"""Writing refused input to the ledger, so that "what was refused, when, from whom and why" has one answer."""

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from relance.ledger.db import RejectedInput

log = logging.getLogger(__name__)


def record_rejections(engine: Engine, rejections: Iterable[RejectedInput]) -> None:
    with Session(engine) as session, session.begin():
        session.add_all(rejections)


def keep_rejections(engine: Engine, rejections: list[RejectedInput]) -> str | None:
    """Write refused input; a ledger out of reach must not hide the refusal itself, so its error is returned
    (and logged) for the caller to mention, never raised."""
    try:
        record_rejections(engine, rejections)
    except SQLAlchemyError as err:
        log.warning("%d refusal(s) not written to the ledger: %s", len(rejections), err)
        return str(err)
    return None


def rejected_action(invoice_id: str, action: str, payload: dict[str, Any], reason: str, by: str) -> RejectedInput:
    return RejectedInput(
        source="ops_action", invoice_id=invoice_id, action=action, payload=payload, reason=reason, by=by
    )


def rejected_account_action(
    customer_id: str, action: str, payload: dict[str, Any], reason: str, by: str
) -> RejectedInput:
    """A customer-level action the account refused; the customer is named in the payload (no invoice)."""
    return RejectedInput(
        source="account_action", action=action, payload={"customer_id": customer_id, **payload}, reason=reason, by=by
    )


def rejected_row(file: str, line: int, invoice_id: str | None, reason: str, by: str) -> RejectedInput:
    return RejectedInput(source="import", invoice_id=invoice_id, line=line, file=file, reason=reason, by=by)
