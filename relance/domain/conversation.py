"""The conversation with a debtor, in order: what was sent, what the provider saw of it, what came back.
Read from a case's history (or the ledger's copy of it), pure; shown by `relance status` and the sales page."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

Kind = Literal["sent", "delivered", "opened", "clicked", "replied", "auto_reply", "bounced", "stopped"]
# history event -> what it is in the conversation
CONVERSATION: dict[str, Kind] = {
    "step_done": "sent",
    "debtor_informed": "sent",
    "email_delivered": "delivered",
    "email_opened": "opened",
    "email_clicked": "clicked",
    "reply_received": "replied",
    "reply_automatic": "auto_reply",
    "email_bounced": "bounced",
    "sms_delivered": "delivered",
    "sms_failed": "bounced",
    "sms_stopped": "stopped",
}


class Exchange(BaseModel):
    at: datetime
    invoice_id: str
    kind: Kind
    what: str  # the step a message belongs to, or a reply's subject: never an address or a text


def exchange_of(invoice_id: str, event: str, detail: str, data: dict[str, Any], at: datetime) -> Exchange | None:
    """One history entry as an exchange, or None when it is not one (a payment, a pause...)."""
    kind = CONVERSATION.get(event)
    if kind is None:
        return None
    if kind in ("replied", "auto_reply"):
        what = str(data.get("subject") or "")
    else:
        what = str(data.get("step_id") or detail.split(":", 1)[0].split(" ", 1)[0])
    return Exchange(at=at, invoice_id=invoice_id, kind=kind, what=what)
