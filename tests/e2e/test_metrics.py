"""Metrics (issue: production): what a case's history adds to the dashboard, and the worker's Prometheus
endpoint scraped after a case ran."""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from relance.domain.case_metrics import Measure, measures
from relance.domain.case_records import HistoryEntry
from starter.importer import start_case
from tests.builders import ROOT, invoice
from tests.conftest import TEST_KEY_RING, dev_server_environment
from tests.recording_endpoint import RecordingEndpoint
from tests.web_ui import free_port

AT = datetime(2026, 5, 4, 9, tzinfo=UTC)


def entry(event: str, **data: str) -> HistoryEntry:
    return HistoryEntry(at=AT, event=event, detail="", data=data)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([entry("policy_resolved")], [Measure("relance_cases_opened", 1)]),
        ([entry("case_closed", outcome="paid")], [Measure("relance_cases_closed", 1, {"outcome": "paid"})]),
        ([entry("step_failed", step_id="reminder-1")], [Measure("relance_steps_failed", 1, {"step": "reminder-1"})]),
        (
            [entry("payment_received", amount="250.5"), entry("payment_received", amount="0.01")],
            [
                Measure("relance_amount_collected_cents", 25050, {"currency": "EUR"}),
                Measure("relance_amount_collected_cents", 1, {"currency": "EUR"}),
            ],
        ),
        ([entry("payment_received", amount="n/a"), entry("payment_received")], []),
        ([entry("step_done", step_id="reminder-1"), entry("paused"), entry("rejected")], []),
    ],
)
def test_history_entries_become_dashboard_measures(entries, expected):
    assert measures(entries, "EUR") == expected


# ---- the worker's endpoint, scraped after a case ran ---------------------------------------------------------

SENDGRID_KEY = "SG.never-logged-sendgrid-key"
SERVER_TOKEN = "never-logged-codec-server-token"


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with dev_server_environment() as environment:
        yield environment


SDK_LABELS = {"namespace", "service_name", "task_queue", "workflow_type", "activity_type"}  # added to every one


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample by name and its own labels (the SDK's common ones left out)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if k not in SDK_LABELS))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def until(predicate, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := await asyncio.to_thread(predicate):
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_worker_exports_temporal_and_relance_metrics_and_logs_json_without_secrets(dev_server, tmp_path):
    port = free_port()
    endpoint = RecordingEndpoint()
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "RELANCE_TASK_QUEUE": "metrics",
        "RELANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'relance.db'}",
        "RELANCE_POLICY_DIR": str(ROOT / "tests" / "policies"),
        "RELANCE_EMAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": SENDGRID_KEY,
        "SENDGRID_API_HOST": endpoint.url,
        "RELANCE_CODEC_SERVER_TOKENS": SERVER_TOKEN,
        "RELANCE_METRICS_ADDRESS": f"127.0.0.1:{port}",
        "RELANCE_METRICS_REFRESH_SECONDS": "0.3",
        "RELANCE_LOG_FORMAT": "json",
        "RELANCE_DOCUMENTS_DIR": str(tmp_path / "documents"),
        "RELANCE_LETTER_OUTBOX_DIR": str(tmp_path / "letters"),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "relance.cli.main", "worker"],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    client = dev_server.client
    try:
        case = invoice("MET-1", due=date.today() - timedelta(days=3), customer={"id": "C-MET"})
        handle = await start_case(client, case, "metrics")
        await until(lambda: len(endpoint.requests) == 1, "the first reminder")
        await handle.execute_update(
            "payment_received", {"amount": "1250.00", "paid_on": date.today().isoformat(), "reference": "VIR-1"}
        )

        def closed() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            try:
                samples = scrape(port)
            except httpx.HTTPError:
                return None
            return samples if ("relance_cases_closed_total", (("outcome", "paid"),)) in samples else None

        samples = await until(closed, "the closed case on the dashboard")

        def opened_gauge() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            samples = scrape(port)
            stages = {labels: v for (name, labels), v in samples.items() if name == "relance_open_cases"}
            return samples if stages and all(v == 0 for v in stages.values()) else None

        samples = await until(opened_gauge, "the open-cases gauge to drop the paid case")
    finally:
        worker.terminate()
        log, _ = worker.communicate(timeout=60)
    ours = {k: v for k, v in samples.items() if k[0].startswith("relance_")}
    assert ours[("relance_messages_total", (("channel", "email"), ("outcome", "done")))] == 1
    assert ours[("relance_cases_opened_total", ())] == 1
    assert ours[("relance_cases_closed_total", (("outcome", "paid"),))] == 1
    assert ours[("relance_amount_collected_cents_total", (("currency", "EUR"),))] == 125000
    assert any(v == 0 for (name, _), v in ours.items() if name == "relance_open_cases")
    # its e-mail, like its ledger writes, ran in its workflow task (v20): the local activities' metrics
    sdk = {name for name, _ in samples if name.startswith("temporal_")}
    assert {"temporal_workflow_completed_total", "temporal_local_activity_execution_latency_count"} <= sdk, sorted(sdk)

    lines = [line for line in log.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records and len(records) >= len(log.splitlines()) - 2, log  # one object per line (core's warnings aside)
    sent = [r for r in records if r.get("message") == "email reminder-1: done"]
    assert sent and sent[0]["case_id"] == "invoice-MET-1" and sent[0]["step"] == "reminder-1", records
    assert (sent[0]["workflow_id"], sent[0]["activity_type"], sent[0]["level"]) == (
        "customer-C-MET",
        "send_customer_messages",  # due as it opened: the account sends it (a lone case older than an hour would)
        "INFO",
    )
    assert sent[0]["run_id"] and sent[0]["activity_id"]
    for secret in (SENDGRID_KEY, SERVER_TOKEN, TEST_KEY_RING.split(":")[1], "compta@acme.example"):
        assert secret not in log
