"""The last check before anything reaches the debtor, made on the case itself right before it happens.

A payment, a dispute or a pause that arrived a second ago counts; so does a sending window that closed
while the attempt waited for a retry. A step run through the server asks the case (its `seen` query) at each attempt;
a step the case runs in its own workflow task (a local activity, which cannot query the case it runs in) reads
what the case saw of itself right before, carried in the request (`StepRequest.seen`).
"""

from decimal import Decimal

from temporalio import activity
from temporalio.client import Client

from relance.domain.activity_contract import StepRequest, StepResult
from relance.domain.case_view import SEEN_QUERY, CaseSeen


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


async def read_case(client: Client, request: StepRequest) -> CaseSeen:
    """The case as the last check reads it: its own reading, carried in the request, when the step runs in the
    case's workflow task (a local activity, which cannot query it); else its `seen` query, asked now (the part of
    its status a check reads: the account asks it of every case of a batch)."""
    seen = request.seen if activity.info().is_local else None
    if seen is None:
        seen = await client.get_workflow_handle(request.case_id).query(SEEN_QUERY, result_type=CaseSeen)
    return seen


async def still_wanted(client: Client, request: StepRequest) -> tuple[StepResult | None, CaseSeen | None]:
    """A result that stops the step (window closed, settled, paused), or None and the case as just read."""
    if (closed := window_closed(request)) is not None:
        return closed, None
    case = await read_case(client, request)
    return stop_for(request, case), case


async def still_wanted_balance(client: Client, request: StepRequest) -> tuple[StepResult | None, Decimal]:
    """`still_wanted` for a message, answering what it asks for."""
    stop, case = await still_wanted(client, request)
    return stop, live_balance(case)


def live_balance(case: CaseSeen | None) -> Decimal:
    return case.chased if case is not None else Decimal(0)
