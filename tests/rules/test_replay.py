"""Every recorded history must replay on the current workflow code (see tests/record_histories.py).

A change that breaks this would break cases already running in production: guard it with a patch
(workflows/patches.py) and record new histories, keeping the old ones until their generation is retired.
"""

import base64
import json
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from relance.encryption import EncryptionCodec
from tests.conftest import data_converter
from workflows import CustomerAccount, InvoiceCollection
from workflows.sandbox import workflow_runner

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


# every scenario the recorder plays since the start contract (v6)
SINCE_V6 = ("arrangements", "continued", "continued_run", "edge", "full_timeline", "grouped", "legal", "refused")
SINCE_V19 = (
    *SINCE_V6,
    "represented",
    "raced",
    "late",
    "late_account",
    "held_newcomer",
    "fresh_alone",
    "import_account",
)
# Each release's recordings, kept until its generation (workflows/patches.py) is retired: recordings of v1–v12
# went with the retirement of those generations (cases without a generation marker, refused since).
RECORDINGS = {
    "v13-generation": SINCE_V6,  # one patch marker, the generation, instead of one per patch
    "v14-open-in-one": SINCE_V6,  # a new case's first ledger write and account report in one local activity
    "v14-direct-debit": (*SINCE_V6, "represented"),  # a returned direct debit presented again (pain.008)
    "v15-moved-cursor": (*SINCE_V6, "represented", "raced"),  # an escalation during a step's send stands
    # an e-mail that reaches the customer's account after that day's e-mail left waits for the next day
    "v16-contact-day": (*SINCE_V6, "represented", "raced", "late", "late_account"),
    # a lone invoice's e-mail leaves from the case itself, after claiming its customer's day
    "v17-lone-voice": (*SINCE_V6, "represented", "raced", "late", "late_account"),
    # a case opens without telling its account; the account reads open cases and keeps its hold in the ledger
    "v18-quiet-open": (*SINCE_V6, "represented", "raced", "late", "late_account", "held_newcomer"),
    # a new case opens in one local activity; a customer's only invoice of an import speaks at once
    "v19-open-with-policy": SINCE_V19,
    # a lone case's message leaves in its own workflow task (a local activity), the case shown once after it; the
    # account sends and tells its cases in its own task
    "v20-send-here": (*SINCE_V19, "failed_here", "all_in"),
}


def test_the_recordings_of_every_kept_generation_are_present():
    expected = sorted(f"{scenario}-{tag}" for tag, scenarios in RECORDINGS.items() for scenario in scenarios)
    assert [p.stem for p in HISTORIES] == expected


def recorded_workflow_id(text: str) -> str:
    """The id the workflow ran under (cases check theirs): invoice-<invoice_id> or customer-<customer_id>."""
    started = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]
    stored = started["input"]["payloads"][0]
    payload = Payload(
        metadata={k: base64.b64decode(v) for k, v in stored["metadata"].items()}, data=base64.b64decode(stored["data"])
    )
    codec = data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)  # histories since v11 are encrypted with the tests' ring
    first = json.loads(codec.decrypt(payload).data)
    if started["workflowType"]["name"] == "CustomerAccount":
        return f"customer-{first}"
    case = first["carried"]["case"] if "carried" in first else first  # a continued run starts from its state
    return f"invoice-{case['invoice_id']}"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path):
    replayer = Replayer(
        workflows=[InvoiceCollection, CustomerAccount],
        data_converter=data_converter,
        workflow_runner=workflow_runner(data_converter),
    )
    text = path.read_text(encoding="utf-8")
    history = WorkflowHistory.from_json(recorded_workflow_id(text), text)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
