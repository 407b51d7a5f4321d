"""A message the debtor asked for, outside the collection plan: a fresh link to their page (asked on the page
when a link had expired or was withdrawn), or a person's answer to a request the page could not agree to alone.

It goes to the address on file (the case's, as contact updates left it), never to one typed on the page, once
per `key` (workflows/debtor_notice.py starts one run per key; activities/debtor_notice.py sends it)."""

from typing import Literal

from pydantic import Field

from relance.domain.invoice import Strict
from relance.domain.limits import Name

SEND_DEBTOR_NOTICE = "send_debtor_notice"
NoticeKind = Literal["fresh_link", "answer"]


class DebtorNotice(Strict):
    key: str = Field(pattern=r"^[A-Za-z0-9._:@-]{1,200}$", description="once per key, ever")
    kind: NoticeKind
    customer_id: Name
    invoice_id: Name = Field(description="the open invoice whose case holds the address on file")
    asked: str = Field(default="", max_length=60, description="answer: the action the debtor asked for")
    asked_on: str = Field(default="", max_length=10, description="answer: the day they asked (ISO)")
    accepted: bool = Field(default=False, description="answer: whether a person agreed")
    note: str = Field(default="", max_length=2000, description="answer: what the person wrote to the debtor")


# What each request is called in the debtor's words (page and e-mail).
REQUEST_WORDS = {
    "fr": {
        "promise_to_pay": "promesse de paiement",
        "payment_plan_agreed": "proposition d'échéancier",
        "pause": "paiement déclaré",
        "payment_received": "paiement par carte",
        "dispute_opened": "contestation",
        "contact_updated": "changement de coordonnées",
    },
    "en": {
        "promise_to_pay": "promise to pay",
        "payment_plan_agreed": "proposed payment plan",
        "pause": "payment declared",
        "payment_received": "card payment",
        "dispute_opened": "dispute",
        "contact_updated": "change of details",
    },
}
