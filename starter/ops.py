"""Ops actions and status for one case, as the CLI and other systems send them."""

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from relance.actions import Action
from relance.case import CaseStatus
from relance.invoice import workflow_id_for


class UnknownCase(Exception):
    pass


class ActionRejected(Exception):
    pass


def _translate(err: RPCError, invoice_id: str) -> Exception:
    if err.status == RPCStatusCode.NOT_FOUND:
        if "completed" in err.message.lower() or "closed" in err.message.lower():
            return ActionRejected(f"case {invoice_id} is closed: {err.message}")
        return UnknownCase(f"no case for invoice {invoice_id} (workflow {workflow_id_for(invoice_id)} not found)")
    return err


async def status(client: Client, invoice_id: str) -> CaseStatus:
    handle = client.get_workflow_handle(workflow_id_for(invoice_id))
    try:
        return await handle.query("status", result_type=CaseStatus)
    except RPCError as err:
        raise _translate(err, invoice_id) from err


async def act(client: Client, invoice_id: str, action: Action, *, update_name: str | None = None) -> CaseStatus:
    handle = client.get_workflow_handle(workflow_id_for(invoice_id))
    try:
        return await handle.execute_update(update_name or action.name, action, result_type=CaseStatus)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise ActionRejected(f"{action.name} refused for {invoice_id}: {message}") from err
    except RPCError as err:
        raise _translate(err, invoice_id) from err
