"""The data converter of every Relance client, worker and replayer: pydantic's, refusing undecodable input.

Handlers and workflow starts take their arguments undecoded (`*args`), so the only way a payload can
fail there is to be no JSON at all (bytes under a JSON encoding, a document nested past the parser's
limit, an encoding nobody knows). Inside a workflow such a payload is handed over as `Undecodable`, which
every handler refuses with its reason like any bad payload (a start is refused and kept in the ledger, an
update rejected, a signal recorded as refused) instead of the SDK dropping it or failing the task. A client
decoding with no type hint gets a non-retryable error. A typed decode (an activity result, a query answer)
still fails loudly: that is our own data, and a bug.
"""

import dataclasses
from collections.abc import Sequence
from typing import Any

import temporalio.api.common.v1
from temporalio import workflow
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.exceptions import ApplicationError

from relance.domain.errors import Undecodable
from relance.domain.limits import bounded
from relance.encryption import EncryptionCodec, KeyRing, KeyRingError, ring_from_environment
from relance.settings import Settings

# pydantic's JSON converter, one per process: the SDK builds a payload converter for every workflow instance,
# each with its own cache of type adapters, so each case built its adapters again (2 % of a busy worker's CPU).
# A type adapter is safe to share between threads; the hints are our passed-through classes, the same in every
# instance.
_SHARED_JSON = PydanticJSONPlainPayloadConverter()


class RefusingPayloadConverter(PydanticPayloadConverter):
    def __init__(self) -> None:  # PydanticPayloadConverter's, with the shared JSON converter
        CompositePayloadConverter.__init__(
            self,
            *(
                _SHARED_JSON if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            ),
        )

    def from_payloads(
        self, payloads: Sequence[temporalio.api.common.v1.Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        try:
            return super().from_payloads(payloads, type_hints)
        except Exception as err:
            if type_hints is not None:
                raise
            if (
                workflow.unsafe.in_sandbox()
            ):  # a workflow handler's or a start's arguments: each bad one handed over as such
                return [self._one(payload) for payload in payloads]
            raise ApplicationError(
                f"undecodable input: {bounded(str(err), 300)}", type="UndecodablePayload", non_retryable=True
            ) from None

    def _one(self, payload: temporalio.api.common.v1.Payload) -> Any:
        try:
            return super().from_payloads([payload], None)[0]
        except Exception as err:
            return Undecodable(bounded(str(err), 300), bytes(payload.data[:200]))


data_converter = DataConverter(payload_converter_class=RefusingPayloadConverter)


def encrypted(ring: KeyRing) -> DataConverter:
    """Our converter with every payload encrypted.

    Failure messages stay in clear: a refused query or update must name what is wrong to any caller (the
    `temporal` CLI, another system), and Temporal hands a query's failure back as plain text, so encoded
    ones would read "Encoded failure" everywhere. (A refusal reason may quote a bounded excerpt of the input.)"""
    return dataclasses.replace(data_converter, payload_codec=EncryptionCodec(ring))


def key_ring(settings: Settings) -> KeyRing | None:
    """The ring the settings name; None only when encryption is explicitly off and no key is set."""
    inline = settings.codec_keys.get_secret_value() if settings.codec_keys is not None else None
    ring = ring_from_environment(inline, settings.codec_keys_file, settings.codec_key_id)
    if ring is None and settings.payload_encryption == "required":
        raise KeyRingError(
            "payload encryption is required and no key is set: put a key from `relance keys new` in "
            "RELANCE_CODEC_KEYS (or in a file named by RELANCE_CODEC_KEYS_FILE); only for a throwaway local "
            "server, RELANCE_PAYLOAD_ENCRYPTION=off"
        )
    return ring


def data_converter_for(settings: Settings) -> DataConverter:
    """The converter of every client, worker and replayer: encrypted unless encryption is explicitly off."""
    ring = key_ring(settings)
    return data_converter if ring is None else encrypted(ring)
