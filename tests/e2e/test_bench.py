"""The benchmarks run, small, on every CI run: they must keep working on a fresh clone. Their figures are
printed, never asserted; what is asserted is what they count (e-mails, duplicates, ledger rows, accounts)."""

import asyncio
import json
import pstats
import sqlite3
import subprocess
import sys
from datetime import date

from bench.burst import bench_case, dev_server, slow_workflow_tasks, stragglers
from starter.importer import start_case
from tests.builders import ROOT


def bench(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.burst", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one JSON line, nothing else on stdout
    return json.loads(lines[0])


def test_the_burst_benchmark_delivers_every_first_reminder_once_and_prints_its_figures(tmp_path):
    profile = tmp_path / "worker.prof"
    result = bench("--mode", "burst", "--cases", "12", "--profile", str(profile))
    assert (result["mode"], result["cases"]) == ("burst", 12)
    assert (result["emails_delivered"], result["duplicates"]) == (12, 0)
    assert result["project_seconds"] > 0 and result["bare_seconds"] > 0
    assert result["ratio"] > 0
    assert result["worker_peak_rss_mb"] > 0 and result["bare_worker_peak_rss_mb"] > 0
    assert isinstance(result["slow_workflow_tasks"], int)
    # a first reminder due as the case opens, each case told (as `relance import` tells it) that it is its
    # customer's only invoice (v19): it opens in one local activity, sends its own e-mail in another (v20) and
    # writes its ledger again, all in its first workflow task; no customer account starts. Its 11 events:
    # started, the task (3), the generation's marker and its search attribute, 3 local activities, the search
    # attributes once, the next timer
    assert result["per_case"] == {"activities": 0.0, "local_activities": 3.0, "events": 11.0}
    assert (result["customer_accounts"], result["per_customer_account"]["activities"]) == (0, 0.0)
    assert (result["customers_written_twice"], result["cases_covered"]) == (0, 12)
    assert result["full_timeline"]["history"].startswith("full_timeline-v")
    # --profile: the project worker ran under cProfile, every thread of it: the e-mail leaving (the event loop),
    # the ledger written (an activity thread) and the workflow deciding (the SDK's workflow threads)
    functions = pstats.Stats(str(profile)).stats
    for seen in ("activities/debtor_contact.py", "activities/ledger.py", "workflows/invoice_collection.py"):
        assert any(path.endswith(seen) for path, _line, _name in functions), seen


def test_the_early_burst_sends_each_lone_case_itself_and_starts_no_account():
    """Cases opened before their step (70 minutes of case time, seven real seconds): each sends its own e-mail
    (send_email_alone, in its own workflow task), and no customer account ever starts."""
    result = bench("--mode", "burst", "--cases", "6", "--shape", "early")
    assert (result["shape"], result["customers"], result["customer_accounts"]) == ("early", 6, 0)
    assert (result["emails_delivered"], result["duplicates"], result["cases_covered"]) == (6, 0, 6)
    assert result["customers_written_twice"] == 0
    # policy chosen and ledger written (one local activity since v19), the e-mail (a local activity since v20), the
    # ledger again
    assert result["per_case"] == {"activities": 0.0, "local_activities": 3.0, "events": 17.0}
    assert result["per_customer_account"] == {"activities": 0.0, "local_activities": 0.0, "events": 0.0}


def test_the_portfolio_burst_writes_once_to_each_customer_through_its_account():
    """Ten invoices of four customers, due as they open: each case is told its customer has two or three in the
    import, so it leaves its e-mail to its customer's account, which gathers them into one."""
    result = bench("--mode", "burst", "--cases", "10", "--shape", "portfolio")
    assert (result["shape"], result["customers"], result["customer_accounts"]) == ("portfolio", 4, 4)
    assert (result["emails_delivered"], result["duplicates"], result["customers_written_twice"]) == (4, 0, 0)
    assert result["cases_covered"] == 10
    # the account sends through the server (its check queries the cases) and tells its cases from one local
    # activity (account-tells-v1)
    assert (result["per_customer_account"]["activities"], result["per_customer_account"]["local_activities"]) == (
        1.0,
        1.0,
    )


def test_the_hold_benchmark_settles_every_case_with_its_ledger_row_and_no_account(tmp_path):
    """Cases not yet due start no customer account (generation v18): the hold's count of accounts is 0."""
    kept = tmp_path / "run"
    result = bench("--mode", "hold", "--cases", "15", "--keep", str(kept))
    assert (result["mode"], result["cases"], result["customers"]) == ("hold", 15, 6)
    assert (result["ledger_cases"], result["customer_accounts"], result["emails_sent"]) == (15, 0, 0)
    assert result["settle_seconds"] >= result["start_seconds"] > 0
    assert result["worker_peak_rss_mb"] > 0
    # --keep: the run's files stay, and the count of slow workflow tasks is read from the kept worker log
    log_text = (kept / "worker.log").read_text()
    assert "payloads encrypted with key" in log_text
    assert result["slow_workflow_tasks"] == slow_workflow_tasks(log_text)
    with sqlite3.connect(kept / "relance.db") as ledger:
        assert ledger.execute("select count(*) from cases").fetchone() == (15,)


def test_a_kept_directory_must_be_new_or_empty_so_that_the_ledger_counts_one_run(tmp_path):
    (tmp_path / "relance.db").write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "bench.burst", "--mode", "hold", "--cases", "3", "--keep", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert f"--keep {tmp_path}: not empty" in done.stderr


def test_slow_workflow_tasks_are_counted_from_the_sdk_cores_warnings():
    warning = "[TMPRL1104] 0193a1b2-run:4:1 Workflow task duration exceeded 5 seconds."
    log_text = "\n".join([f"2026-12-05 16:01:02,003 WARNING temporalio.worker: {warning}", "INFO other", warning])
    assert slow_workflow_tasks(log_text) == 2
    assert slow_workflow_tasks("2026-12-05 WARNING temporalio.worker: TMPRL1100 nondeterminism") == 0


def test_the_import_benchmark_starts_every_row_of_its_file():
    result = bench("--mode", "import", "--cases", "30")
    assert (result["mode"], result["rows"], result["started"], result["rejected"]) == ("import", 30, 30, 0)
    assert result["import_seconds"] > 0 and result["raw_start_seconds"] > 0
    assert result["import_peak_rss_mb"] > 0


async def test_a_stalled_hold_names_the_cases_it_waits_on_and_what_they_wait_for():
    async with dev_server() as (client, _pid):
        case = bench_case(0, date(2030, 1, 31), customers=1)
        await start_case(client, case, "no-worker-polls-this")  # it never settles: no worker takes its task
        for _ in range(100):  # visibility records a start a moment after it
            if found := await stragglers(client):
                break
            await asyncio.sleep(0.05)
    assert found == [
        f"{case.workflow_id}: 2 events, last WORKFLOW_TASK_SCHEDULED; workflow task SCHEDULED, attempt 1;"
        " 0 pending activities"
    ]


async def test_an_on_disk_dev_server_keeps_its_sqlite_file_in_wal_mode(tmp_path):
    # the default rollback journal syncs at every commit: on-disk starts ran about three times slower
    db_file = tmp_path / "temporal.db"
    async with dev_server(db_file):  # it yields once the server answers, its schema written
        with sqlite3.connect(db_file) as store:
            assert store.execute("pragma journal_mode").fetchone() == ("wal",)
