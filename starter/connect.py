"""One way to reach Temporal, with the pydantic data converter, for the worker and every command."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from relance.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, data_converter=pydantic_data_converter
    )
