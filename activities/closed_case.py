"""Reading the state a closed run of a case ended with: a reopened case goes on from it.

A closed workflow still answers queries (its history is replayed by a worker), so the state comes from
Temporal itself: whoever asks for a reopening cannot hand the case a balance or a history of their own.
"""

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from relance.domain.activity_contract import READ_CLOSED_CASE, ClosedRun
from relance.domain.case import CaseState


class ClosedCases:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name=READ_CLOSED_CASE)
    async def read_closed_case(self, run: ClosedRun) -> CaseState:
        handle = self.client.get_workflow_handle(run.workflow_id, run_id=run.run_id)
        try:
            return await handle.query("case_state", result_type=CaseState)
        except RPCError as err:
            raise ApplicationError(
                f"run {run.run_id} of {run.workflow_id} cannot be read: {err.message}",
                type="NoClosedRun",
                non_retryable=True,
            ) from err
