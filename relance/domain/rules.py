"""Where an action is added: the one table of what each ops action on a case checks and does.

Each row declares an action once: its payload and least role are the `Action` class (relance/domain/actions.py),
its check (raises a `Rejected`, before anything is written: update validators, signals) and its effect (the
change to the case, once accepted) are the functions the row names, grouped by concern: payments, holds,
arrangements, contact, the legal stages. Everything else derives from this table: the workflow's updates and
signals (`OPS_ACTIONS`), the API's routes and OpenAPI, the fuzz suite's list. An action without a row is
refused everywhere (`rule_for` raises `Undeclared`): fail closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from relance.domain import arrangements, case_legal, contact, einvoicing, holds, payments
from relance.domain.actions import (
    Action,
    AgencyUpdate,
    ContactUpdated,
    CourtOrderIssued,
    CreditNoteApplied,
    DisputeOpened,
    DisputeResolved,
    EInvoiceStatus,
    EmailBounced,
    EmailEvent,
    JudgmentPaid,
    MailReturned,
    OppositionFiled,
    OrderServed,
    Pause,
    PaymentPlanAgreed,
    PaymentReceived,
    PaymentReversed,
    PromiseToPay,
    ReapplyPolicy,
    RegisteredLetterDelivered,
    ReplyReceived,
    Resume,
    SettlementOffered,
    SmsEvent,
    WriteOff,
)
from relance.domain.case_legal import Outcome
from relance.domain.errors import Rejected

if TYPE_CHECKING:
    from relance.domain.case import CaseState

Check = Callable[["CaseState", Any, datetime], None]
Effect = Callable[["CaseState", Any, datetime], None]


class Undeclared(Rejected):
    """An action no row of the table declares: refused, whatever its payload."""


@dataclass(frozen=True)
class Rule:
    action: type[Action]
    check: Check
    effect: Effect


def _nothing_to_check(state: CaseState, action: Action, now: datetime) -> None:
    """An action any open case takes (the case being open is checked before every rule)."""


def _write_off(state: CaseState, action: WriteOff, now: datetime) -> None:
    state.close(now, Outcome.written_off, f"written off: {action.reason}", by=action.by)


def _resolved_by_the_workflow(state: CaseState, action: ReapplyPolicy, now: datetime) -> None:
    """The policy is resolved by an activity: InvoiceCollection takes this action itself (`_reapply`)."""
    raise Rejected("reapply_policy is taken by the case's workflow, which resolves the policy")


RULES: dict[type[Action], Rule] = {
    rule.action: rule
    for rule in (
        Rule(PaymentReceived, payments.check_payment, payments.receive),
        Rule(DisputeOpened, holds.check_dispute_opened, holds.open_dispute),
        Rule(DisputeResolved, holds.check_dispute_resolved, holds.resolve_dispute),
        Rule(PromiseToPay, arrangements.check_promise, arrangements.promise),
        Rule(PaymentPlanAgreed, arrangements.check_plan, arrangements.agree_plan),
        Rule(Pause, holds.check_pause, holds.pause),
        Rule(Resume, holds.check_resume, holds.resume),
        Rule(WriteOff, _nothing_to_check, _write_off),
        Rule(ContactUpdated, _nothing_to_check, contact.update_contact),
        Rule(SettlementOffered, arrangements.check_offer, arrangements.offer),
        Rule(PaymentReversed, payments.check_reversal, payments.reverse),
        Rule(EmailEvent, contact.check_email_event, contact.email_event),
        Rule(ReapplyPolicy, _nothing_to_check, _resolved_by_the_workflow),
        Rule(ReplyReceived, contact.check_reply, contact.reply),
        Rule(SmsEvent, contact.check_sms_event, contact.sms_event),
        # what the e-invoicing platform says, and credit notes (relance/domain/einvoicing.py)
        Rule(EInvoiceStatus, einvoicing.check_status, einvoicing.apply_status),
        Rule(CreditNoteApplied, einvoicing.check_credit_note, einvoicing.apply_credit_note),
        # the legal stages (relance/domain/case_legal.py)
        *(
            Rule(legal, case_legal.check, case_legal.apply)
            for legal in (
                RegisteredLetterDelivered,
                MailReturned,
                EmailBounced,
                CourtOrderIssued,
                OrderServed,
                OppositionFiled,
                JudgmentPaid,
                AgencyUpdate,
            )
        ),
    )
}
OPS_ACTIONS: tuple[type[Action], ...] = tuple(RULES)  # every action on a case: an update and a signal each


def rule_for(action: type[Action]) -> Rule:
    """The action's row; an action the table does not declare is refused."""
    try:
        return RULES[action]
    except KeyError:
        raise Undeclared(f"action {getattr(action, 'name', action.__name__)!r} is not declared: refused") from None
