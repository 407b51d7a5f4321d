"""The data converter of every Relance client, worker and replayer: pydantic's, refusing undecodable input.

Handlers and workflow starts take their arguments undecoded (`*args`), so the only way a payload can
fail there is to be no JSON at all (bytes under a JSON encoding, a document nested past the parser's
limit, an encoding nobody knows). Decoded with no type hint, such a payload fails the workflow (or
rejects the update) with a non-retryable error instead of failing its workflow task forever. A typed
decode (an activity result, a query answer) still fails loudly: that is our own data, and a bug.
"""

from collections.abc import Sequence
from typing import Any

import temporalio.api.common.v1
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from relance.domain.limits import bounded


class RefusingPayloadConverter(PydanticPayloadConverter):
    def from_payloads(
        self, payloads: Sequence[temporalio.api.common.v1.Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        try:
            return super().from_payloads(payloads, type_hints)
        except Exception as err:
            if type_hints is not None:
                raise
            raise ApplicationError(
                f"undecodable input: {bounded(str(err), 300)}", type="UndecodablePayload", non_retryable=True
            ) from None


data_converter = DataConverter(payload_converter_class=RefusingPayloadConverter)
