"""One way to reach Temporal, with the pydantic data converter, for the worker and every command."""

from temporalio.client import Client
from temporalio.runtime import Runtime

from relance.converter import data_converter_for
from relance.settings import Settings


class TemporalUnreachable(Exception):
    pass


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client with the settings' converter; a missing or malformed key ring raises before any connection."""
    converter = data_converter_for(settings)
    try:
        return await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace, data_converter=converter, runtime=runtime
        )
    except RuntimeError as exc:
        raise TemporalUnreachable(
            f"cannot reach Temporal at {settings.temporal_address} (TEMPORAL_ADDRESS): {exc}; "
            "is the server running? `./dev demo` starts a local one"
        ) from None
