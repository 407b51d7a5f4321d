"""Ops actions and status for one case, as the CLI and other systems send them."""

from typing import Any, TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from relance.domain.account import account_id
from relance.domain.actions import Action
from relance.domain.case import CaseStatus
from relance.domain.invoice import workflow_id_for
from starter.executions import execution_status


class UnknownCase(Exception):
    pass


class ActionRejected(Exception):
    pass


async def _translate(client: Client, err: RPCError, invoice_id: str) -> Exception:
    """NOT_FOUND means no such case, or a closed one that can no longer take actions: say which."""
    if err.status != RPCStatusCode.NOT_FOUND:
        return err
    try:
        closed = await execution_status(client, workflow_id_for(invoice_id))
    except RPCError:
        return UnknownCase(f"no case for invoice {invoice_id} (workflow {workflow_id_for(invoice_id)} not found)")
    return ActionRejected(f"case {invoice_id} is closed ({closed.name.lower()}); it takes no more actions")


async def status(client: Client, invoice_id: str) -> CaseStatus:
    handle = client.get_workflow_handle(workflow_id_for(invoice_id))
    try:
        return await handle.query("status", result_type=CaseStatus)
    except RPCError as err:
        raise await _translate(client, err, invoice_id) from err


T = TypeVar("T")


async def _update(handle: WorkflowHandle[Any, Any], action: Action, target: str, result_type: type[T]) -> T:
    """Send an ops action as an update; a refusal comes back as ActionRejected naming what was refused."""
    try:
        payload = action.model_dump(mode="json", exclude_none=True)
        return await handle.execute_update(action.name, payload, result_type=result_type)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise ActionRejected(f"{action.name} refused for {target}: {message}") from err


async def act(client: Client, invoice_id: str, action: Action) -> CaseStatus:
    try:
        return await _update(client.get_workflow_handle(workflow_id_for(invoice_id)), action, invoice_id, CaseStatus)
    except RPCError as err:
        raise await _translate(client, err, invoice_id) from err


async def act_on_account(client: Client, customer_id: str, action: Action) -> dict[str, Any]:
    """A customer-level action, sent to the customer's account as an update."""
    handle = client.get_workflow_handle(account_id(customer_id))
    try:
        return await _update(handle, action, f"customer {customer_id}", dict)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UnknownCase(
                f"no account for customer {customer_id}: it starts with the customer's first case"
            ) from err
        raise
