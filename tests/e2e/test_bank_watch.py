"""Statements that arrive by themselves (issue: money from the bank is never lost or misread): the watch takes
every new file of its folder once, by content, archives it by day, keeps its outcome in the ledger, leaves a file
still being written for the next run, refuses a broken file or an account that is not ours with its reason, and
raises a task when a business day brings no statement for an account that had one the day before. The schedule
itself runs on the dev server (the time-skipping server has no schedules), through the command."""

import asyncio
import os
import subprocess
import sys
import time
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.domain.bank_watch import WATCH_SCHEDULE_ID, WatchRequest
from relance.ledger.db import BankFileRow, engine_for
from relance.ledger.work_queue import list_tasks
from relance.settings import Settings
from relance.worker_runtime import build_worker
from starter.bank_watch import watch_folder
from tests.builders import OURS, ROOT, START, camt, entry, invoice, paris
from tests.conftest import dev_server_environment

OLD = time.time() - 3600  # written an hour ago: settled


def drop(folder, name: str, data: bytes, *, at: float = OLD) -> None:
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (at, at))


async def test_the_watch_takes_each_file_once_and_says_what_became_of_it(env, open_case, worker, tmp_path):
    paid = await open_case(invoice("W-1", amount="1250.00", starts_at=START))
    await paid.advance_to(paris(2026, 5, 12, 12))  # the statement's day
    engine = engine_for(worker.database_url)
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    statement = camt(entry("W-B1", "1250.00", "VIR FACT W-1", "E2E-W1"), statement_id="S-W1")
    drop(inbox, "releve-2026-05-12.xml", statement)
    drop(inbox, "releve-2026-05-12 (1).xml", statement)  # the same file dropped twice under two names
    drop(inbox, "broken.xml", statement[:400])  # cut short long ago: refused
    drop(inbox, "arriving.xml", statement[:400], at=time.time())  # being written now: left for later
    drop(inbox, "transfer.xml.part", b"<")  # a transfer in progress, by its name
    foreign = statement.replace(OURS.encode(), b"DE89370400440532013000").replace(b"S-W1", b"S-DE")
    drop(inbox, "other-bank.xml", foreign)
    request = WatchRequest(folder=str(inbox), archive=str(archive), settle_seconds=60)
    ours = frozenset({OURS})

    report = await watch_folder(env.client, engine, request, today=date(2026, 5, 12), ours=ours,
                                task_queue=worker.task_queue)  # fmt: skip
    assert [(f.name, f.outcome) for f in report.files] == [
        ("arriving.xml", "waiting"),
        ("broken.xml", "refused"),
        ("other-bank.xml", "unknown_account"),
        ("releve-2026-05-12 (1).xml", "imported"),
        ("releve-2026-05-12.xml", "duplicate"),
    ]
    details = {f.name: f.detail for f in report.files}
    assert details["broken.xml"].startswith("nothing applied: the XML is not well-formed (line")
    assert details["other-bank.xml"] == (
        "nothing applied: account DE89370400440532013000 is not one of ours (RELANCE_BANK_ACCOUNTS)"
    )
    assert details["releve-2026-05-12 (1).xml"] == "1 paid"
    assert details["releve-2026-05-12.xml"] == (
        "the same content as releve-2026-05-12 (1).xml, imported on 2026-05-12: nothing applied again"
    )
    assert sorted(p.name for p in inbox.iterdir()) == ["arriving.xml", "transfer.xml.part"]
    assert sorted(str(p.relative_to(archive)) for p in archive.rglob("*.xml")) == [
        "2026-05-12/releve-2026-05-12 (1).xml",
        "2026-05-12/releve-2026-05-12.xml",
        "refused/2026-05-12/broken.xml",
        "refused/2026-05-12/other-bank.xml",
    ]
    assert (await paid.status()).outcome == "paid"
    with Session(engine) as session:
        rows = session.execute(select(BankFileRow.name, BankFileRow.outcome, BankFileRow.accounts)).all()
    assert sorted(rows) == [
        ("broken.xml", "refused", []),
        ("other-bank.xml", "unknown_account", ["DE89370400440532013000"]),
        ("releve-2026-05-12 (1).xml", "imported", [OURS]),
        ("releve-2026-05-12.xml", "duplicate", []),
    ]
    tasks = list_tasks(engine, today=date(2026, 5, 12))
    assert [t.kind for t in tasks if t.kind.startswith("bank_")] == ["bank_file"]

    # the next business day brings nothing for our account: a person is told, once however often it runs
    reports = [
        await watch_folder(
            env.client,
            engine,
            request,
            today=date(2026, 5, 13),
            ours=ours,
            task_queue=worker.task_queue,
            now=time.time() + 120,
        )
        for _ in range(2)
    ]
    assert [[(f.name, f.outcome) for f in r.files] for r in reports] == [[("arriving.xml", "refused")], []]
    assert [r.missing for r in reports] == [[OURS], [OURS]]
    (missing,) = [t for t in list_tasks(engine, today=date(2026, 5, 13)) if t.kind == "bank_missing"]
    assert missing.script.startswith(
        f"No statement came for account {OURS} on 2026-05-13, though one came on 2026-05-12."
    )
    # a Saturday is no business day: no statement is missed
    saturday = await watch_folder(env.client, engine, request, today=date(2026, 5, 16), ours=ours,
                                  task_queue=worker.task_queue)  # fmt: skip
    assert saturday.missing == []


async def test_the_schedule_runs_the_watch_each_business_morning(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    drop(inbox, "releve.xml", camt(entry("SCH-1", "75.00", "VIREMENT", "E2E-S"), statement_id="S-SCH"))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'relance.db'}", outbox_dir=tmp_path / "outbox",
        policy_dir=ROOT / "policies", task_queue="watch-test",
    )  # fmt: skip
    async with dev_server_environment() as env, build_worker(env.client, settings):
        address = env.client.service_client.config.target_host
        environment = {**os.environ, "TEMPORAL_ADDRESS": address, "RELANCE_DATABASE_URL": settings.database_url,
                       "RELANCE_TASK_QUEUE": settings.task_queue, "COLUMNS": "400"}  # fmt: skip

        def relance(*args: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "relance.cli.main", "bank", "watch", "--dir", str(inbox), *args]
            return subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120)

        bad = await asyncio.to_thread(relance, "--at", "25:00")
        assert (bad.returncode, bad.stderr.strip()) == (1, "error: --at '25:00' is not a time HH:MM")
        first = await asyncio.to_thread(relance, "--at", "06:30", "--settle", "0", "--now")
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(f"schedule {WATCH_SCHEDULE_ID} created: {inbox}")
        again = await asyncio.to_thread(relance, "--at", "07:15", "--settle", "0")
        assert again.stdout.startswith(f"schedule {WATCH_SCHEDULE_ID} updated: {inbox}")
        described = await env.client.get_schedule_handle(WATCH_SCHEDULE_ID).describe()
        (calendar,) = described.schedule.spec.calendars
        days = (calendar.day_of_week[0].start, calendar.day_of_week[0].end)
        assert (calendar.hour[0].start, calendar.minute[0].start, days) == (7, 15, (1, 5))
        assert described.schedule.spec.time_zone_name == "Europe/Paris"
        engine = engine_for(settings.database_url)
        for _ in range(300):  # the run --now started
            with Session(engine) as session:
                row = session.scalar(select(BankFileRow))
            if row is not None:
                break
            await asyncio.sleep(0.1)
        assert row is not None and (row.name, row.outcome, row.detail) == ("releve.xml", "imported", "1 review")
        assert list(inbox.iterdir()) == [tmp_path / "inbox" / "archive"]
        await env.client.get_schedule_handle(WATCH_SCHEDULE_ID).delete()
