"""The sandbox asks its workflows their payload contexts once, and only for a converter no context can change."""

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from relance.converter import data_converter, encrypted
from relance.encryption import KeyRing, new_key_line, ring_from_environment
from workflows.sandbox import SandboxAskedOnce, takes_no_context, workflow_runner


class ContextCodec(PayloadCodec, WithSerializationContext):
    """A codec that reads the context (say, to sign payloads for one workflow id): a different one per context."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(context)


def ring() -> KeyRing:
    found = ring_from_environment(new_key_line("k1"), None, None)
    assert found is not None
    return found


def test_our_converters_take_no_context_so_the_sandbox_is_asked_once():
    for converter in (data_converter, encrypted(ring())):
        assert takes_no_context(converter)
        runner = workflow_runner(converter)
        assert isinstance(runner, SandboxAskedOnce)
        assert isinstance(runner.inner, SandboxedWorkflowRunner)


def test_a_converter_that_reads_its_context_keeps_the_sdks_sandbox_unchanged():
    reading = dataclasses.replace(data_converter, payload_codec=ContextCodec())
    assert not takes_no_context(reading)
    assert type(workflow_runner(reading)) is SandboxedWorkflowRunner


def test_every_payload_converter_the_sdk_builds_shares_one_set_of_type_adapters() -> None:
    """The SDK builds a payload converter per workflow instance: a type adapter is still built once per process."""
    built: list[object] = []

    class Counted:
        def __get_pydantic_core_schema__(self, source: object, handler: GetCoreSchemaHandler) -> CoreSchema:
            built.append(source)
            return handler(source)

    hint = Annotated[int, Counted()]
    payload = data_converter.payload_converter.to_payloads([7])[0]
    for _ in range(3):  # as three new cases would
        assert data_converter.payload_converter_class().from_payloads([payload], [hint]) == [7]
    assert built == [int]
