"""The real sendgrid client, pointed at a local endpoint that records what SendGrid would receive."""

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType

from activities.email_delivery import (
    MAX_COVERS_CHARS,
    DeliveryFailed,
    DeliveryInDoubt,
    OutgoingEmail,
    SendGridBackend,
)
from relance.ledger.db import SideEffect, engine_for
from relance.ledger.work_queue import list_tasks
from relance.settings import Settings
from tests.builders import ROOT, invoice, paris
from tests.conftest import activities_run
from tests.recording_endpoint import RecordingEndpoint, Reply

START = paris(2026, 4, 27, 8)  # the courtesy e-mail of an invoice due 30 April leaves at 09:00


@pytest.fixture
def endpoint() -> Iterator[RecordingEndpoint]:
    recorder = RecordingEndpoint()
    yield recorder
    recorder.close()


@pytest.fixture
def settings(tmp_path: Path, endpoint: RecordingEndpoint) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'relance.db'}",
        policy_dir=ROOT / "policies",
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        email_backend="sendgrid",
        sendgrid_api_key="SG.test-key",
        sendgrid_api_host=endpoint.url,
        email_from="relances@vendor.example",
        creditor_name="Vendor SAS",
        demo_mode=True,  # cases start on a shifted clock
    )


async def test_server_error_is_retried_without_a_duplicate(open_case, endpoint, worker, env):
    """A lone case tries its e-mail once in its own workflow task (v20); the provider's error sends the step
    through the server, retried there, and the claim makes the second attempt the one e-mail."""
    endpoint.script = [Reply(status=500, body={"errors": [{"message": "internal"}]}), Reply(status=202)]
    case = await open_case(invoice("SG-1", starts_at=START))
    status = await case.advance_to(paris(2026, 4, 27, 12))
    route = await activities_run(env.client, "invoice-SG-1")
    assert route[route.index("local:send_email_alone") :][:3] == [
        "local:send_email_alone",
        "server:send_email_alone",
        "local:record_case",
    ]
    assert len(endpoint.requests) == 2
    first, second = endpoint.requests
    assert first.body == second.body
    assert first.path == "/v3/mail/send"
    assert first.headers["Authorization"] == "Bearer SG.test-key"
    assert first.body["personalizations"][0]["to"] == [{"email": "compta@acme.example", "name": "ACME SAS"}]
    assert first.body["custom_args"] == {"relance_key": "invoice-SG-1:courtesy", "relance_case": "invoice-SG-1"}
    assert first.body["from"] == {"email": "relances@vendor.example", "name": "Vendor SAS"}
    assert first.body["subject"] == "Facture SG-1 : échéance le 30 avril 2026"
    assert first.body["content"][0]["type"] == "text/plain"
    courtesy = [s for s in status.steps if s.step_id == "courtesy"]
    assert [(s.status, s.provider_id) for s in courtesy] == [("done", "msg-2")]
    with Session(engine_for(worker.database_url)) as session:
        row = session.get(SideEffect, "invoice-SG-1:courtesy")
        assert (row.status, row.attempts, row.provider_id) == ("sent", 2, "msg-2")


async def test_bad_request_flags_the_address_and_moves_to_a_call(open_case, endpoint, worker, env):
    """A 400 is not retried; the address is flagged and the next e-mail steps become calls for a person."""
    endpoint.default = Reply(status=400, body={"errors": [{"message": "Does not contain a valid address."}]})
    case = await open_case(invoice("SG-2", starts_at=START))
    status = await case.advance_to(paris(2026, 5, 4, 12))
    # refused in the case's own workflow task (v20): never sent through the server to be refused again
    assert "server:send_email_alone" not in await activities_run(env.client, "invoice-SG-2")
    assert [r.body["subject"] for r in endpoint.requests] == ["Facture SG-2 : échéance le 30 avril 2026"]
    assert [(s.step_id, s.status, s.channel) for s in status.steps] == [
        ("courtesy", "failed", None),
        ("courtesy", "done", "phone"),
        ("reminder-1", "done", "phone"),
    ]
    assert status.steps[0].detail == (
        'SendGrid answered 400: {"errors": [{"message": "Does not contain a valid address."}]}'
    )
    assert status.flags.email_invalid == status.steps[0].detail
    tasks = list_tasks(engine_for(worker.database_url), today=date(2026, 5, 4), due="all")
    assert [(t.invoice_id, t.script.splitlines()[0]) for t in tasks] == [
        ("SG-2", "Appeler ACME SAS : e-mail invalide, facture SG-2, 1\u202f250,00\xa0€"),
        ("SG-2", "Appeler ACME SAS : e-mail invalide, facture SG-2, 1\u202f250,00\xa0€"),
    ]
    fixed = await case.update("contact_updated", {"email": "ap@acme.example"})
    assert fixed.flags.email_invalid is None


def email() -> OutgoingEmail:
    return OutgoingEmail(
        to="a@b.example",
        to_name="A",
        sender="s@v.example",
        sender_name="V",
        subject="S",
        text="T",
        idempotency_key="invoice-X:step",
        case_id="invoice-X",
    )


def test_rate_limit_is_a_transient_failure(endpoint):
    endpoint.default = Reply(status=429, body={"errors": [{"message": "too many requests"}]})
    with pytest.raises(DeliveryFailed, match="SendGrid answered 429"):
        SendGridBackend("SG.k", endpoint.url).send(email())


def test_no_answer_in_time_leaves_the_send_in_doubt(endpoint):
    endpoint.default = Reply(status=202, delay=1.5)
    with pytest.raises(DeliveryInDoubt, match="did not answer in time"):
        SendGridBackend("SG.k", endpoint.url, timeout_seconds=0.3).send(email())
    assert len(endpoint.requests) == 1


def test_unreachable_provider_is_a_transient_failure():
    with pytest.raises(DeliveryFailed, match="SendGrid unreachable"):
        SendGridBackend("SG.k", "http://127.0.0.1:9").send(email())


def test_a_grouped_email_names_the_invoices_it_covers_within_sendgrids_limit(endpoint):
    endpoint.script = [Reply(status=202)]
    keys = tuple(f"invoice-G-{n:04}:reminder-1" for n in range(400))  # 400 invoices: past the bound
    backend = SendGridBackend("SG.test-key", endpoint.url)
    backend.send(replace(email(), idempotency_key="customer-C:batch-1", covers=keys))
    sent = endpoint.requests[0].body["custom_args"]["relance_covers"].split(",")
    assert sent == list(keys[: len(sent)]) and len(",".join(sent)) <= MAX_COVERS_CHARS < len(",".join(keys))
    assert len(sent) == 307  # 25 characters and a comma each


async def test_a_step_that_leaves_for_the_server_shows_the_case_in_the_ui_first(open_case, endpoint, worker, env):
    """Due as it opens, a lone case sends in its first workflow task and shows its search attributes once, after
    the step (v20). When that try fails and the step goes through the server (an outage may last hours), the
    case is shown before the activity is scheduled, not only once it ends."""
    endpoint.script = [Reply(status=500, body={"errors": [{"message": "internal"}]})]
    case = await open_case(invoice("SG-6", starts_at=paris(2026, 4, 27, 10), customer_invoices_in_batch=1))
    status = await case.advance_to(paris(2026, 4, 27, 12))
    kinds = [
        EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
        async for e in env.client.get_workflow_handle("invoice-SG-6").fetch_history_events()
    ]
    first_task = kinds[kinds.index("WORKFLOW_TASK_COMPLETED") + 1 : kinds.index("ACTIVITY_TASK_SCHEDULED") + 1]
    assert first_task == [
        "MARKER_RECORDED",  # the generation
        "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",  # its TemporalChangeVersion
        "MARKER_RECORDED",  # opened (a local activity)
        "MARKER_RECORDED",  # the e-mail tried in the task, refused by the provider (500)
        "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",  # the case shown
        "ACTIVITY_TASK_SCHEDULED",  # the e-mail through the server
    ]
    assert len(endpoint.requests) == 2
    assert [(s.step_id, s.status, s.provider_id) for s in status.steps] == [("courtesy", "done", "msg-2")]


async def test_a_grouped_email_the_provider_failed_once_leaves_once_and_every_case_hears(
    open_case, endpoint, worker, env
):
    """The account's grouped e-mail goes through the server (retried there); the provider's error (503) is retried
    and the e-mail leaves once; the account tells both cases from one local activity (account-tells-v1)."""
    endpoint.script = [Reply(status=503, body={"errors": [{"message": "unavailable"}]})]
    cases = [await open_case(invoice(f"SG-G{n}", starts_at=START)) for n in (1, 2)]
    await cases[0].advance_to(paris(2026, 4, 27, 12))
    route = await activities_run(env.client, "customer-C-ACME")
    assert route == ["server:send_customer_messages", "local:tell_cases"]
    assert len(endpoint.requests) == 2 and endpoint.requests[0].body == endpoint.requests[1].body
    for case in cases:
        (courtesy,) = (await case.status()).steps
        assert (courtesy.status, courtesy.provider_id) == ("done", "msg-2")
