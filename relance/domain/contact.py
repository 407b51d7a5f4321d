"""How a case reaches its debtor: contact details corrected, and what the e-mail provider saw of each
message (delivered, opened, bounced). Each action's check and effect, declared in relance/domain/rules.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from relance.domain.actions import ContactUpdated, EmailEvent, ReplyReceived, SmsEvent
from relance.domain.case_records import DebtorNotice
from relance.domain.deliveries import SEEN, MessageTrail, check_event, record_seen, stop_reason
from relance.domain.errors import AlreadyRecorded, Rejected
from relance.domain.holds import Hold

if TYPE_CHECKING:  # the rules read and change a case's state; the state does not import its rules back
    from relance.domain.case import CaseState

ADDRESS_TASK = "email_unreachable"  # the call that gets a working address (phone/email_unreachable.*.j2)


def update_contact(state: CaseState, action: ContactUpdated, now: datetime) -> None:
    changes: dict[str, Any] = {}
    if action.email is not None:
        changes["email"] = action.email
        state.flags.email_invalid = None
    if action.address is not None:
        changes["address"] = action.address
        state.flags.address_invalid = None
    if action.phone is not None:
        changes["phone"] = action.phone
    state.case = state.case.model_copy(update={"customer": state.case.customer.model_copy(update=changes)})
    state.record(now, "contact_updated", f"contact updated: {', '.join(changes)}", by=action.by)
    notice = state.formal_notice
    if action.address is not None and notice is not None and notice.returned and state.policy is not None:
        # the returned formal notice is sent again, to the new address
        state.formal_notice = None
        state.cursor = state.policy.step_index(notice.step_id)
        state.steps_finished_at = None
        state.record(now, "formal_notice_to_resend", "the formal notice will be sent again to the new address")


def check_email_event(state: CaseState, action: EmailEvent, now: datetime) -> None:
    if action.at > now + timedelta(minutes=10):  # the provider's clock, give or take
        raise Rejected(f"at {action.at.isoformat()} is in the future")
    check_event(state.deliveries, state.flags.email_invalid, action)


def email_event(state: CaseState, event: EmailEvent, now: datetime) -> None:
    """Delivered, opened, clicked: kept on the message's trail, once. Bounced, dropped, reported as spam,
    unsubscribed: the address is flagged as an `email_bounced` would (the next e-mail steps become calls)."""
    data = {"step_id": event.step_id, "event_id": event.event_id, "kind": event.kind}
    if event.kind in SEEN:
        assert state.policy is not None
        local = event.at.astimezone(ZoneInfo(state.policy.calendar.timezone))
        state.record(now, f"email_{SEEN[event.kind]}", record_seen(state.deliveries, event, local), by=event.by, **data)
        return
    state.flags.email_invalid = stop_reason(event)
    state.record(now, "email_bounced", f"{state.case.customer.email}: {state.flags.email_invalid}", by=event.by, **data)
    # a person is asked for a working address now, not at the next e-mail step (one task per kind and step)
    state.notices.append(DebtorNotice(key=f"address-{event.kind}-{event.step_id}", template=ADDRESS_TASK,
                                     channel="phone", any_stage=True))  # fmt: skip


def check_reply(state: CaseState, action: ReplyReceived, now: datetime) -> None:
    if action.reply_id in state.replies:
        raise AlreadyRecorded(f"reply {action.reply_id!r} is already recorded on this case")


def reply(state: CaseState, action: ReplyReceived, now: datetime) -> None:
    """The debtor answered: recorded; unless a machine did, the chase stops `replies.pause_days` (a person has
    a task with the text, made where the reply came in), or longer if a pause already runs."""
    assert state.policy is not None
    state.replies.append(action.reply_id)
    del state.replies[:-200]
    debtor = state.case.customer.email
    sender = action.sender if action.sender.lower() == (debtor or "").lower() else f"{action.sender} (not {debtor})"
    data: dict[str, object] = {
        "reply_id": action.reply_id,
        "sender": action.sender,
        "subject": action.subject,
        "text": action.text,
        "received_at": action.received_at.isoformat(),
    }
    if action.attachments:
        data["attachments"] = action.attachments
    if action.automatic:
        state.record(now, "reply_automatic", f"automatic reply from {sender}: {action.subject}", by=action.by, **data)
        return
    state.last_contact_at = now
    state.record(now, "reply_received", f"reply from {sender}: {action.subject}", by=action.by, **data)
    days = state.policy.replies.pause_days
    until = state.today(now) + timedelta(days=days)
    held = state.manual_pause
    if days and (held is None or (held.until is not None and held.until < until)):
        state.manual_pause = Hold(reason=f"the debtor replied ({action.subject or 'no subject'})", since=now,
                                  until=until, kind="reply")  # fmt: skip
        state.record(now, "paused", f"paused until {until}: the debtor replied, a person reads it first")


def check_sms_event(state: CaseState, action: SmsEvent, now: datetime) -> None:
    if any(h.data.get("event_id") == action.event_id for h in state.history if h.event.startswith("sms_")):
        raise AlreadyRecorded(f"{action.step_id}: SMS event {action.event_id!r} already recorded")


def sms_event(state: CaseState, action: SmsEvent, now: datetime) -> None:
    """Delivered: on the message's trail, as an e-mail's. Undelivered or failed: recorded with why. STOP: no
    SMS goes to that number again (the ledger's opt-outs; the next SMS step says so when it skips)."""
    data = {"step_id": action.step_id, "event_id": action.event_id, "kind": action.kind}
    said = f": {action.reason}" if action.reason else ""
    if action.kind == "delivered":
        trail = state.deliveries.setdefault(action.step_id, MessageTrail())
        trail.delivered = trail.delivered or action.at
        state.record(now, "sms_delivered", f"{action.step_id} SMS delivered", by=action.by, **data)
    elif action.kind == "stop":
        state.record(now, "sms_stopped", f"the debtor answered STOP{said}: no more SMS", by=action.by, **data)
    else:
        state.record(now, "sms_failed", f"{action.step_id} SMS {action.kind}{said}", by=action.by, **data)
