"""Where a reply finds its cases: the Reply-To token (and Message-ID) of each message sent, kept when it
leaves (activities/debtor_contact.py) and looked up when a reply comes in (relance/api/inbound.py)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from relance.ledger.db import ReplyAddress


@dataclass(frozen=True)
class Addressed:
    """The message a reply answers: its key and the cases it spoke for (several for a grouped e-mail)."""

    message_key: str
    case_ids: list[str]
    customer_id: str


def remember_reply_address(
    engine: Engine, token: str, message_key: str, message_id: str, case_ids: Sequence[str], customer_id: str
) -> None:
    """Kept once per message (an attempt sent again reuses its token)."""
    with Session(engine) as session, session.begin():
        if session.get(ReplyAddress, token) is None:
            session.add(
                ReplyAddress(
                    token=token,
                    message_key=message_key,
                    message_id=message_id,
                    case_ids=list(case_ids),
                    customer_id=customer_id,
                )
            )


def find_addressed(engine: Engine, tokens: Sequence[str], message_ids: Sequence[str]) -> Addressed | None:
    """The message a reply answers, by the token of the address it was sent to, else by the Message-IDs it
    quotes (In-Reply-To, References: a client that replied to the From address)."""
    with Session(engine) as session:
        for token in tokens:
            row = session.get(ReplyAddress, token)
            if row is not None:
                return Addressed(row.message_key, list(row.case_ids), row.customer_id)
        if message_ids:
            row = session.scalar(select(ReplyAddress).where(ReplyAddress.message_id.in_(list(message_ids))).limit(1))
            if row is not None:
                return Addressed(row.message_key, list(row.case_ids), row.customer_id)
    return None
