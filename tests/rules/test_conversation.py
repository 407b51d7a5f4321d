"""The conversation with a debtor (relance/domain/conversation.py): what was sent, what the provider saw of it,
what came back, read from the history; `relance status` shows it with the reply's text."""

from datetime import UTC, datetime

import pytest

from relance.cli.support import out, show_status
from relance.domain import case_view
from relance.domain.actions import ReplyReceived
from relance.domain.conversation import exchange_of
from tests.builders import START, case

AT = datetime(2026, 4, 27, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "detail", "data", "seen"),
    [
        ("step_done", "courtesy: e-mail to c@acme.example: F-1", {"step_id": "courtesy"}, ("sent", "courtesy")),
        ("debtor_informed", "dispute-1-rejected: e-mail to x@y: réponse", {}, ("sent", "dispute-1-rejected")),
        ("email_delivered", "reminder-1 delivered on 27/04", {"step_id": "reminder-1"}, ("delivered", "reminder-1")),
        ("email_opened", "reminder-1 opened on 27/04", {"step_id": "reminder-1"}, ("opened", "reminder-1")),
        ("reply_received", "reply from a@b: Re: F-1", {"subject": "Re: F-1", "text": "payé"}, ("replied", "Re: F-1")),
        ("reply_automatic", "automatic reply from a@b: Absence", {"subject": "Absence"}, ("auto_reply", "Absence")),
        ("email_bounced", "c@acme.example: reminder-1 bounced", {"step_id": "reminder-1"}, ("bounced", "reminder-1")),
        ("payment_received", "payment 10 EUR", {}, None),
        ("paused", "paused until 2026-05-02", {}, None),
    ],
)  # fmt: skip
def test_what_of_the_history_is_the_conversation(event, detail, data, seen):
    said = exchange_of("F-1", event, detail, data, AT)
    assert (None if said is None else (said.kind, said.what)) == seen
    assert said is None or "@" not in said.what  # never an address: the sales page shows it


def test_relance_status_shows_the_conversation_with_the_replys_text():
    state = case()
    reply = ReplyReceived(reply_id="<r1@x>", sender="compta@acme.example", subject="Re: Facture PL-1",
                          received_at=START, text="Payé hier par virement.")  # fmt: skip
    state.apply(reply, START)
    with out.capture() as captured:
        show_status(case_view.status(state, START, None), as_json=False)
    shown = captured.get()
    assert "conversation with the debtor" in shown
    assert "replied" in shown and "Payé hier par virement." in shown
