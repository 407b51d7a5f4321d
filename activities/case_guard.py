"""The last check before anything reaches the debtor, made on the case itself right before it happens.

A payment, a dispute or a pause that arrived a second ago counts; so does a sending window that closed
while the attempt waited for a retry. A step run through the server asks the case by a query at each attempt;
a step the case runs in its own workflow task (a local activity, which cannot query the case it runs in) reads
what the case saw of itself right before, carried in the request (`StepRequest.seen`).
"""

from decimal import Decimal

from temporalio import activity
from temporalio.client import Client

from relance.domain.activity_contract import StepRequest, StepResult
from relance.domain.case_view import SEEN_QUERY, CaseSeen, CaseStatus


def window_closed(request: StepRequest) -> StepResult | None:
    """The attempt came after the sending window closed (it waited for a retry, say)."""
    scheduled = activity.info().current_attempt_scheduled_time
    if request.window_closes_at is not None and scheduled > request.window_closes_at:
        return StepResult(status="deferred", detail="sending window closed before this attempt")
    return None


def stop_for(request: StepRequest, case: CaseSeen) -> StepResult | None:
    """A result that stops the step (settled, paused) for the stage it requires, or None: it may go."""
    if request.requires_stage == "any":
        return None
    if case.state == "closed" or case.balance <= 0:
        detail = f"not sent: nothing left to collect ({case.stage})"
        return StepResult(status="skipped_settled", detail=detail, balance=case.balance)
    match request.requires_stage:
        case "chasing":
            paused = case.state != "open"
        case "payment_plan":
            paused = case.stage != "payment_plan"
        case _:
            paused = False
    if paused:
        detail = f"not sent: case is {case.stage} ({case.pause_reason})"
        return StepResult(status="skipped_paused", detail=detail, balance=case.balance)
    return None


async def still_wanted(client: Client, request: StepRequest) -> tuple[StepResult | None, CaseStatus | None]:
    """A result that stops the step (window closed, settled, paused), or None and the case's live status (for a
    step that needs more of the case than a message: a legal step, a debit)."""
    if (closed := window_closed(request)) is not None:
        return closed, None
    status = await client.get_workflow_handle(request.case_id).query("status", result_type=CaseStatus)
    return stop_for(request, status.seen()), status


async def still_wanted_balance(client: Client, request: StepRequest) -> tuple[StepResult | None, Decimal]:
    """The last check of a message, answering what it asks for: from the request's reading of the case when the
    case runs the step in its own workflow task (a local activity), else from the case's `seen` query (what this
    check reads, not the whole status: the account checks every case of a batch so)."""
    if (closed := window_closed(request)) is not None:
        return closed, Decimal(0)
    seen = request.seen if activity.info().is_local else None
    if seen is None:
        seen = await client.get_workflow_handle(request.case_id).query(SEEN_QUERY, result_type=CaseSeen)
    return stop_for(request, seen), seen.chased


def live_balance(status: CaseStatus | None) -> Decimal:
    return status.chased if status is not None else Decimal(0)
