"""What became of the messages a case sent, as the e-mail provider reports it (SendGrid's Event Webhook).

Each message (known by its step) keeps when it was delivered, first opened and first clicked: recorded once,
whatever the provider repeats, and cited where a person or a court needs proof that the debtor was reached.
A hard bounce or a drop flags the address, as `email_bounced` does (the next e-mail steps become calls); a spam
report or an unsubscribe flags it too and asks a person, since writing again would be unwelcome.
"""

from datetime import datetime

from pydantic import BaseModel

from relance.domain.actions import EmailEvent
from relance.domain.case_records import StepRecord
from relance.domain.errors import AlreadyRecorded

SEEN = {"delivered": "delivered", "open": "opened", "click": "clicked"}
STOPS = {"bounce": "bounced", "dropped": "dropped", "spamreport": "reported as spam", "unsubscribe": "unsubscribed"}


class MessageTrail(BaseModel):
    """When the provider saw a message delivered, first opened, first clicked."""

    delivered: datetime | None = None
    opened: datetime | None = None
    clicked: datetime | None = None


def check_event(trails: dict[str, MessageTrail], email_invalid: str | None, event: EmailEvent) -> None:
    """An event already recorded is refused as AlreadyRecorded: a caller that posts a batch again is idempotent."""
    if event.kind in SEEN:
        seen = getattr(trails.get(event.step_id, MessageTrail()), SEEN[event.kind])
        if seen is not None:
            raise AlreadyRecorded(f"{event.step_id}: {SEEN[event.kind]} already recorded ({seen.isoformat()})")
    elif email_invalid is not None and email_invalid == stop_reason(event):
        raise AlreadyRecorded(f"{event.step_id}: already recorded ({email_invalid})")


def stop_reason(event: EmailEvent) -> str:
    """Why e-mail to this address stops, as the case flags it."""
    said = f": {event.reason}" if event.reason else ""
    return f"{event.step_id} {STOPS[event.kind]}{said}"


def record_seen(trails: dict[str, MessageTrail], event: EmailEvent, local: datetime) -> str:
    """The trail updated; what the history says ("reminder-1 delivered on 12/11/2026 at 09:02", local time)."""
    trail = trails.setdefault(event.step_id, MessageTrail())
    setattr(trail, SEEN[event.kind], event.at)
    return f"{event.step_id} {SEEN[event.kind]} on {local:%d/%m/%Y at %H:%M}"


class ReminderSent(BaseModel):
    """A message the case sent, as a statement or a dossier cites it: when, how, what the debtor received, and
    what the provider saw of it."""

    step_id: str
    at: datetime
    channel: str
    what: str  # the subject of an e-mail, the script's title of a call, the letter's reference
    delivered: datetime | None = None
    opened: datetime | None = None


def reminders_sent(steps: list[StepRecord], trails: dict[str, MessageTrail]) -> list[ReminderSent]:
    """Every step done, in order, with its message's trail (a step without a channel, a dossier say, too)."""
    sent = []
    for step in steps:
        if step.status != "done":
            continue
        what = step.provider_id or "" if step.channel == "letter" else step.detail.split(": ", 1)[-1]
        trail = trails.get(step.step_id)
        sent.append(
            ReminderSent(
                step_id=step.step_id,
                at=step.at,
                channel=step.channel or "",
                what=what,
                delivered=trail.delivered if trail else None,
                opened=trail.opened if trail else None,
            )
        )
    return sent
