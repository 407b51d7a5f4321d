"""Asking for a notice the debtor wanted (relance/domain/notices.py): one DebtorNotice run per key, so asking
twice sends once, whichever process asks (the page, `relance task done`, the API)."""

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from relance.domain.notices import DebtorNotice


async def send_notice(client: Client, notice: DebtorNotice, task_queue: str) -> bool:
    """Whether this call asked for it (False: it had been asked for under this key before)."""
    try:
        await client.start_workflow(
            "DebtorNotice",
            notice,
            id=f"notice-{notice.key}",
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
