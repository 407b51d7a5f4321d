"""At start, prove the key ring reads what the server already holds: a wrong ring must stop a worker before it
takes work, not fail the first case it wakes."""

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from relance.encryption import UndecryptablePayload


class KeyRingMismatch(Exception):
    """The ring cannot decrypt a case the server holds; the message names the case and the key."""


async def check_ring_against(client: Client) -> str | None:
    """Decrypt the input of the newest workflow on the server; return its id (None when there is none, or the
    server cannot list, like the time-skipping test server)."""
    try:
        newest = None
        async for execution in client.list_workflows(limit=1):
            newest = execution
    except RPCError:
        return None
    if newest is None:
        return None
    handle = client.get_workflow_handle(newest.id, run_id=newest.run_id)
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            break
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        codec = client.data_converter.payload_codec
        if codec is not None and payloads:
            try:
                await codec.decode(list(payloads))
            except UndecryptablePayload as err:
                raise KeyRingMismatch(f"the key ring cannot read workflow {newest.id}: {err}") from None
        break
    return newest.id
