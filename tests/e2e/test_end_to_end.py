"""The product as an operator runs it: dev server, `relance worker` and `relance` commands as processes.

A fresh worker process is the only place some faults show (e.g. a library that touches restricted
calls the first time it runs inside the workflow sandbox), so this test keeps nothing in-process.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from relance.cli.demo import dated_sample
from relance.ledger.db import CustomerHoldRow, RejectedInput, engine_for
from tests.builders import ROOT
from tests.conftest import server_binary
from tests.patch_probe import LegacyCase
from workflows.patches import GENERATION

RELANCE = [sys.executable, "-m", "relance.cli.main"]


@pytest.fixture(scope="module")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=server_binary("temporal"),
        ui=False,
        dev_server_extra_args=["--log-level", "error", "--namespace", "bare", "--namespace", "retired"],
    ) as environment:
        address = environment.client.service_client.config.target_host
        ledger = tmp_path_factory.mktemp("setup") / "ledger.db"
        environment_vars = {**os.environ, "TEMPORAL_ADDRESS": address, "RELANCE_DATABASE_URL": f"sqlite:///{ledger}"}
        first = subprocess.run([*RELANCE, "setup"], env=environment_vars, cwd=ROOT, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        done, registered = first.stdout.splitlines()[:2]
        assert done == "ledger schema up to date" and ledger.exists()
        assert registered.startswith("namespace default: registered AmountDue, CollectionStage, Currency,")
        again = subprocess.run([*RELANCE, "setup"], env=environment_vars, cwd=ROOT, capture_output=True, text=True)
        assert again.stdout.splitlines() == [
            "ledger schema up to date",
            "namespace default: search attributes already registered",
        ]
        yield address


@pytest.fixture
def ops_env(dev_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_server,
        "RELANCE_TASK_QUEUE": f"e2e-{tmp_path.name}",
        "RELANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'relance.db'}",
        "RELANCE_OUTBOX_DIR": str(tmp_path / "outbox"),
        "RELANCE_POLICY_DIR": str(ROOT / "policies"),
        "RELANCE_DEMO_MODE": "1",  # the cases run on a compressed clock
        "COLUMNS": "200",
    }
    with open(tmp_path / "worker.log", "w") as log_file:
        worker = subprocess.Popen(
            [*RELANCE, "worker"], env=environment, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log_file
        )
        yield environment
        worker.terminate()
        worker.wait(timeout=30)
    log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in log, log


def relance(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RELANCE, *args], env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120)


def rejected_inputs(environment: dict[str, str]) -> list[tuple]:
    """What the ledger kept of refused input: source, invoice, action, line, and the start of the reason."""
    with Session(engine_for(environment["RELANCE_DATABASE_URL"])) as session:
        rows = session.scalars(select(RejectedInput).order_by(RejectedInput.id)).all()
        return [(r.source, r.invoice_id, r.action, r.line, r.reason.split(" (")[0].split(": ")[-1]) for r in rows]


def wait_for(predicate, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("condition not met in time")


async def test_import_run_and_operate_cases_from_the_command_line(ops_env, tmp_path):
    stamp = tmp_path.name[-6:].replace("_", "")
    sample = tmp_path / "invoices.csv"
    sample.write_text(dated_sample(date.today(), stamp), encoding="utf-8")

    first = relance(ops_env, "import", str(sample), "--seconds-per-day", "4")
    assert first.returncode == 0, first.stderr
    assert "started 8, already existing 0 (left unchanged), rejected 0" in first.stdout
    again = relance(ops_env, "import", str(sample), "--seconds-per-day", "4", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["started"], len(report["existing"]), report["rejected"]) == ([], 8, [])

    def first_step_done() -> dict | None:
        shown = relance(ops_env, "status", f"F-1001-{stamp}", "--json")
        status = json.loads(shown.stdout) if shown.returncode == 0 else None
        return status if status and any(s["status"] == "done" for s in status["steps"]) else None

    status = wait_for(first_step_done)
    assert status["policy"] == "b2b-standard@v3"
    history = [(h["at"], h["event"], h["detail"]) for h in status["history"]]
    assert (tmp_path / "outbox" / f"invoice-F-1001-{stamp}_courtesy.eml").exists(), history

    paid = relance(ops_env, "pay", f"F-1008-{stamp}", "420.00", "--reference", "VIR-8", "--json")
    assert paid.returncode == 0, paid.stderr
    assert (json.loads(paid.stdout)["outcome"], json.loads(paid.stdout)["balance"]) == ("paid", "0")

    nothing = relance(ops_env, "pay", f"F-1002-{stamp}", "0", "--reference", "X")
    assert nothing.returncode == 1
    assert "payment_received: amount: must be greater than 0, got 0" in nothing.stderr  # refused before sending
    future = relance(ops_env, "pay", f"F-1002-{stamp}", "5", "--reference", "X", "--on", "2099-01-01")
    assert future.returncode == 1
    assert "paid_on 2099-01-01 is in the future" in future.stderr
    unknown = relance(ops_env, "pay", "NOPE-404", "5", "--reference", "X")
    assert unknown.returncode == 2
    assert "no case for invoice NOPE-404" in unknown.stderr
    assert rejected_inputs(ops_env) == [
        ("ops_action", f"F-1002-{stamp}", "payment_received", None, "paid_on 2099-01-01 is in the future"),
        ("ops_action", "NOPE-404", "payment_received", None, "no case for invoice NOPE-404"),
    ]

    disputed = relance(ops_env, "dispute", "open", f"F-1003-{stamp}", "--reason", "colis abîmé")
    assert disputed.returncode == 0, disputed.stderr
    assert "Paused: dispute: colis abîmé" in disputed.stdout
    planned = relance(
        ops_env,
        "plan",
        f"F-1005-{stamp}",
        "--installment",
        "2099-01-15:600",
        "--installment",
        "2099-02-15:650.00",
        "--json",
    )
    assert json.loads(planned.stdout)["stage"] == "payment_plan", planned.stderr

    # a customer-level hold reaches the customer's cases through its account
    held = relance(ops_env, "account", "hold", "C-MARTIN", "--reason", "négociation en cours", "--json")
    assert held.returncode == 0, held.stderr
    assert json.loads(held.stdout)["open_cases"] == [f"F-1002-{stamp}"]
    wait_for(
        lambda: json.loads(relance(ops_env, "status", f"F-1002-{stamp}", "--json").stdout)["stage"] == "customer_hold"
    )
    # a hold from before v18 lived in the account alone: `sync-holds` writes it where new cases look, once
    with Session(engine_for(ops_env["RELANCE_DATABASE_URL"])) as session, session.begin():
        session.delete(session.get(CustomerHoldRow, "C-MARTIN"))

    def synced() -> list[str]:
        done = relance(ops_env, "account", "sync-holds", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    wait_for(lambda: synced() == ["C-MARTIN"])  # once visibility lists the account
    assert synced() == []
    with Session(engine_for(ops_env["RELANCE_DATABASE_URL"])) as session:
        row = session.get(CustomerHoldRow, "C-MARTIN")
        assert row is not None and (row.kind, row.reason) == ("hold", "négociation en cours")
    again = relance(ops_env, "account", "include", "C-MARTIN")
    assert (again.returncode, "the customer is not excluded" in again.stderr) == (1, True)
    nobody = relance(ops_env, "account", "release", "C-NOBODY")
    assert (nobody.returncode, "customer C-NOBODY has no open case" in nobody.stderr) == (2, True)

    # the same cases through visibility, as the Web UI filters them (visibility lags the updates a little)
    def listed(*filters: str) -> list[dict]:
        shown = relance(ops_env, "cases", *filters, "--json")
        assert shown.returncode == 0, shown.stderr
        return [c for c in json.loads(shown.stdout) if c["invoice_id"].endswith(stamp)]

    def ids(*filters: str) -> list[str]:
        return sorted(c["invoice_id"].removesuffix(f"-{stamp}") for c in listed(*filters))

    wait_for(lambda: ids("--stage", "disputed") == ["F-1003"] and ids("--stage", "payment_plan") == ["F-1005"])
    (dubois,) = listed("--customer", "P-DUBOIS")
    assert {k: dubois[k] for k in ("stage", "amount_due", "currency", "disputed", "policy", "status")} == {
        "stage": "disputed",
        "amount_due": 189.9,
        "currency": "EUR",
        "disputed": True,
        "policy": "consumer",
        "status": "running",
    }
    assert dubois["due_date"] == (date.today() + timedelta(days=2)).isoformat()
    assert ids("--min-amount", "20000") == ["F-1004"]
    assert ids("--overdue-days", "10") == ["F-1005", "F-1007"]
    assert ids("--customer", "C-PORT") == []
    (port,) = listed("--customer", "C-PORT", "--all")
    assert (port["stage"], port["amount_due"], port["status"], port["next_action_at"]) == (
        "paid",
        0.0,
        "completed",
        None,
    )


def test_the_worker_refuses_a_namespace_without_the_case_attributes(ops_env):
    refused = subprocess.run(
        [*RELANCE, "worker"], env={**ops_env, "TEMPORAL_NAMESPACE": "bare"}, cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "namespace bare lacks the case search attributes InvoiceId (Keyword), CustomerId (Keyword)" in refused.stderr
    assert "run `relance setup` first" in refused.stderr


async def test_setup_and_the_worker_refuse_a_namespace_with_open_cases_of_a_retired_generation(ops_env):
    """Generations v1-v12 are retired: a worker of this release cannot replay their cases, so it does not start
    while one is open, and `relance setup` (run before the workers at each release) names them."""
    retired = {**ops_env, "TEMPORAL_NAMESPACE": "retired", "RELANCE_TASK_QUEUE": "retired"}
    assert relance(retired, "setup").returncode == 0  # nothing open yet: the namespace is prepared
    client = await Client.connect(ops_env["TEMPORAL_ADDRESS"], namespace="retired")
    cases = {"invoice-V9": ["ledger-v1", "local-activities-v1"], "invoice-V15": [GENERATION]}
    # a case no worker has run yet has no marker at all, as a v1 case had: it is new, not retired (v1 cases
    # are told by their start, before V1_ENDED), and must not keep the workers that will run it from starting
    waiting = await client.start_workflow("InvoiceCollection", [], id="invoice-NEW", task_queue="no-worker-yet")
    async with Worker(client, task_queue="legacy", workflows=[LegacyCase]):
        handles = [
            await client.start_workflow("InvoiceCollection", markers, id=case_id, task_queue="legacy")
            for case_id, markers in cases.items()
        ]
        await asyncio.to_thread(wait_for, lambda: relance(retired, "setup").returncode == 1)  # visibility lags
    handles.append(waiting)
    setup = relance(retired, "setup")
    named = "namespace retired holds 1 open case(s) of a generation this release retired (started before"
    assert (setup.returncode, named in setup.stderr) == (1, True), setup.stderr
    assert "invoice-V9" in setup.stderr and "invoice-V15" not in setup.stderr and "invoice-NEW" not in setup.stderr
    assert "this release's workers will refuse to start" in setup.stderr
    worker = subprocess.run([*RELANCE, "worker"], env=retired, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (worker.returncode, named in worker.stderr, "invoice-V9" in worker.stderr) == (1, True, True)
    for handle in handles:
        await handle.terminate("test finished")
    await asyncio.to_thread(wait_for, lambda: relance(retired, "setup").returncode == 0)


async def test_a_broken_row_is_reported_by_line_and_the_others_start(ops_env, tmp_path):
    rows = dated_sample(date.today(), "BAD").splitlines()
    rows[2] = rows[2].replace(",640.00,", ",-640.00,")  # line 3: negative amount
    rows[4] = rows[4].replace("ap@globex.example", "not-an-email")  # line 5: bad e-mail
    rows.append(rows[1])  # line 10: the same invoice again
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = relance(ops_env, "import", str(broken))
    assert result.returncode == 1
    assert "line 3 (F-1002-BAD): amount: must be greater than 0, got -640.00" in result.stderr
    assert (
        "line 5 (F-1004-BAD): customer.email: value is not a valid email address: An email address must have an @-sign."
    ) in result.stderr
    assert "line 10 (F-1001-BAD): invoice_id F-1001-BAD repeats line 2; this row is left out" in result.stderr
    assert "started 6, already existing 0 (left unchanged), rejected 3" in result.stdout
    assert [(source, invoice_id, line) for source, invoice_id, _, line, _ in rejected_inputs(ops_env)] == [
        ("import", "F-1002-BAD", 3),
        ("import", "F-1004-BAD", 5),
        ("import", "F-1001-BAD", 10),
    ]
