"""The work queue round trip: a case's call step creates a task; completing it feeds the case."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from relance.domain.actions import DisputeOpened, PaymentPlanAgreed, PaymentReceived, PromiseToPay
from relance.domain.errors import explain
from relance.domain.task_outcome import TaskOutcome, action_for
from tests.builders import ROOT, invoice, paris

START = paris(2026, 4, 20, 8)


async def relance(env, settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI off the event loop: the worker under test runs on that loop."""
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "RELANCE_DATABASE_URL": settings.database_url,
        "RELANCE_TASK_QUEUE": settings.task_queue,
        "COLUMNS": "200",
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relance.cli.main", *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_call_outcome_feeds_the_case(env, open_case, worker):
    case = await open_case(invoice("TASK-1", starts_at=START, customer={"phone": "+33 1 02 03 04 05"}))
    await case.advance_to(paris(2026, 5, 15, 12))  # call-1 runs on 15 May for balances of 500 or more

    listed = await relance(env, worker, "tasks", "--due", "all", "--json")
    assert listed.returncode == 0, listed.stderr
    tasks = json.loads(listed.stdout)
    assert [(t["invoice_id"], t["due_on"], t["assignee"], t["phone"], t["status"]) for t in tasks] == [
        ("TASK-1", "2026-05-15", "collections", "+33 1 02 03 04 05", "open")
    ]
    assert "Appel de relance — facture TASK-1 (ACME SAS)" in tasks[0]["script"]

    done = await relance(
        env,
        worker,
        "task",
        "done",
        str(tasks[0]["id"]),
        "--outcome",
        "promise",
        "--on",
        "2026-05-22",
        "--by",
        "julie",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    status = await case.status()
    assert (status.stage, status.history[-1].event, status.history[-1].by) == (
        "promise_to_pay",
        "promise_to_pay",
        "julie",
    )
    after = json.loads((await relance(env, worker, "tasks", "--due", "all", "--json")).stdout)
    assert [(t["status"], t["outcome"]) for t in after] == [("done", "promise")]

    again = await relance(env, worker, "task", "done", str(tasks[0]["id"]), "--outcome", "unreachable")
    assert again.returncode == 2
    assert f"task #{tasks[0]['id']} is already done (promise)" in again.stderr
    assert (await relance(env, worker, "tasks", "--due", "open", "--json")).stdout.strip() == "[]"


TODAY = date(2026, 5, 15)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"outcome": "promise", "on": "2026-05-22"}, PromiseToPay(promised_on=date(2026, 5, 22), by="julie")),
        ({"outcome": "paid", "amount": "12.50", "reference": "CHQ-1"},
         PaymentReceived(amount=Decimal("12.50"), reference="CHQ-1", paid_on=TODAY, by="julie")),
        ({"outcome": "dispute", "note": "colis abîmé"}, DisputeOpened(reason="colis abîmé", by="julie")),
        ({"outcome": "plan", "installments": [{"due_on": "2026-06-01", "amount": "100"}]},
         PaymentPlanAgreed(installments=[{"due_on": date(2026, 6, 1), "amount": Decimal(100)}], by="julie")),
        ({"outcome": "no_answer"}, None),
        ({"outcome": "unreachable", "note": "numéro attribué à un autre abonné"}, None),
    ],
)  # fmt: skip
def test_a_task_outcome_feeds_its_action(fields, expected):
    assert action_for(TaskOutcome.model_validate(fields), "julie", TODAY) == expected


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"outcome": "promise"}, "outcome promise needs on"),
        ({"outcome": "paid", "amount": "12.50"}, "outcome paid needs amount and reference"),
        ({"outcome": "plan"}, "outcome plan needs installments"),
        ({"outcome": "dispute"}, "outcome dispute needs a reason"),
        ({"outcome": "called"}, "outcome"),
        ({"outcome": "no_answer", "colour": "red"}, "colour"),
        ({"outcome": "paid", "amount": "-3", "reference": "X"}, "amount"),
    ],
)
def test_a_task_outcome_missing_what_it_needs_is_refused(fields, refusal):
    with pytest.raises(ValidationError) as caught:
        TaskOutcome.model_validate(fields)
    assert refusal in explain(caught.value)
