"""What a person obtained on a task (a call), and the ops action it feeds to the case.

The CLI's `relance task done` options and the API's body are this one model, so both refuse the same input.
"""

from datetime import date
from typing import Any, Literal

from pydantic import Field, model_validator

from relance.domain.actions import Action, DisputeOpened, Installment, PaymentPlanAgreed, PaymentReceived, PromiseToPay
from relance.domain.invoice import Strict
from relance.domain.lateness import LatenessCause
from relance.domain.limits import Amount, Day, Name, Reason
from relance.domain.rules import OPS_ACTIONS

Outcome = Literal["promise", "paid", "dispute", "plan", "unreachable", "no_answer", "accepted", "declined"]
TASK_OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]


class TaskOutcome(Strict):
    outcome: Outcome
    on: Day | None = Field(default=None, description="promised date, or payment date (default today)")
    amount: Amount | None = Field(default=None, description="promised or paid amount")
    reference: Name | None = Field(default=None, description="payment reference (outcome paid)")
    reason: Reason | None = Field(default=None, description="dispute reason (outcome dispute; default the note)")
    installments: list[Installment] = Field(default_factory=list, max_length=120, description="outcome plan")
    note: str = Field(
        default="", max_length=2000, description="free note kept with the task (the debtor's answer, on their request)"
    )
    cause: LatenessCause | None = Field(default=None, description="why the invoice is paid late")
    invoice: Name | None = Field(default=None, description="the invoice it concerns, when the task names none")

    @model_validator(mode="after")
    def _outcome_has_its_fields(self) -> "TaskOutcome":
        if self.outcome == "promise" and self.on is None:
            raise ValueError("outcome promise needs on (the promised date)")
        if self.outcome == "paid" and (self.amount is None or self.reference is None):
            raise ValueError("outcome paid needs amount and reference")
        if self.outcome == "plan" and not self.installments:
            raise ValueError("outcome plan needs installments")
        if self.outcome == "dispute" and not (self.reason or self.note.strip()):
            raise ValueError("outcome dispute needs a reason (or a note)")
        return self


class NoRequest(ValueError):
    """`accepted` on a task that holds no debtor request to accept."""


ACTIONS_BY_NAME: dict[str, type[Action]] = {action.name: action for action in OPS_ACTIONS}


def action_for(result: TaskOutcome, by: str, today: date, request: dict[str, Any] | None = None) -> Action | None:
    """The ops action the outcome feeds to the case; None for outcomes that only close the task (`declined`
    among them). `accepted` feeds the debtor's own request the task holds (relance/api/portal.py kept it).

    Raises pydantic's ValidationError when the action refuses a field (it checks more than the outcome does),
    NoRequest when `accepted` has nothing to accept.
    """
    match result.outcome:
        case "accepted":
            asked = ACTIONS_BY_NAME.get((request or {}).get("action", ""))
            if request is None or asked is None:
                raise NoRequest("outcome accepted needs a task holding a debtor's request (a task of their page)")
            return asked.model_validate({**request.get("fields", {}), "by": by})
        case "promise":
            return PromiseToPay(promised_on=result.on, amount=result.amount, cause=result.cause, by=by)
        case "paid":
            return PaymentReceived(amount=result.amount, reference=result.reference, paid_on=result.on or today, by=by)
        case "dispute":
            reason = result.reason or result.note
            if result.cause:
                return DisputeOpened(reason=reason, cause=result.cause, by=by)
            return DisputeOpened(reason=reason, by=by)
        case "plan":
            return PaymentPlanAgreed(installments=result.installments, cause=result.cause, by=by)
    return None
