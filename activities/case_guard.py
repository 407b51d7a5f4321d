"""The last check before anything reaches the debtor, asked of the case itself right before it happens.

A payment, a dispute or a pause that arrived a second ago counts; so does a sending window that closed
while the attempt waited for a retry.
"""

from decimal import Decimal

from temporalio import activity
from temporalio.client import Client

from relance.domain.activity_contract import StepRequest, StepResult
from relance.domain.case_view import CaseStatus


async def still_wanted(client: Client, request: StepRequest) -> tuple[StepResult | None, CaseStatus | None]:
    """A result that stops the step (window closed, settled, paused), or None and the case's live status."""
    scheduled = activity.info().current_attempt_scheduled_time
    if request.window_closes_at is not None and scheduled > request.window_closes_at:
        return StepResult(status="deferred", detail="sending window closed before this attempt"), None
    status = await client.get_workflow_handle(request.case_id).query("status", result_type=CaseStatus)
    if request.requires_stage == "any":
        return None, status
    if status.state == "closed" or status.balance <= 0:
        detail = f"not sent: nothing left to collect ({status.stage})"
        return StepResult(status="skipped_settled", detail=detail, balance=status.balance), status
    match request.requires_stage:
        case "chasing":
            paused = status.state != "open"
        case "payment_plan":
            paused = status.stage != "payment_plan"
        case _:
            paused = False
    if paused:
        detail = f"not sent: case is {status.stage} ({status.pause_reason})"
        return StepResult(status="skipped_paused", detail=detail, balance=status.balance), status
    return None, status


def live_balance(status: CaseStatus | None) -> Decimal:
    return status.chased if status is not None else Decimal(0)
