"""Statements that arrive by themselves: every file the bank connection dropped in a folder is imported once
(by content, whatever its name), archived by day, and kept in the ledger with its outcome; a business day
that brings no statement for an account that had one the business day before raises a task.

A file still being written is left for the next run (younger than `settle_seconds`, or named as a transfer
in progress); a file that cannot be read, or reports an account that is not ours, is archived apart with its
reason and nothing of it applied. Run by the `BankWatch` workflow on a Temporal Schedule
(`relance bank watch`) through the activity below: it lives with the client code it drives (the bank import
acts on cases as a client does), and the worker registers it.
"""

import hashlib
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
)

from relance.bank.entries import StatementRefused
from relance.bank.reading import read_statement, unknown_accounts
from relance.domain.bank_watch import IMPORT_BANK_FOLDER, WATCH_SCHEDULE_ID, WatchedFile, WatchReport, WatchRequest
from relance.domain.calendar import CalendarSpec, is_contact_day, local_day
from relance.ledger.bank_files import accounts_on, file_taken, record_file
from relance.ledger.work_queue import create_review_task
from relance.settings import Settings
from starter.bank_import import import_statement

IN_TRANSFER = (".part", ".partial", ".tmp", ".crdownload", ".filepart", "~")
MAX_BYTES = 50 * 1024 * 1024  # as the CAMT reader's limit: a larger file is refused, never read whole


async def watch_folder(
    client: Client,
    engine: Engine,
    request: WatchRequest,
    *,
    today: date,
    ours: frozenset[str],
    task_queue: str,
    calendar: CalendarSpec | None = None,
    now: float | None = None,
) -> WatchReport:
    folder, archive = Path(request.folder), Path(request.archive)
    report = WatchReport(day=today)
    clock = time.time() if now is None else now
    for path in sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []:
        if path.name.startswith(".") or path.name.endswith(IN_TRANSFER):
            continue
        age = clock - path.stat().st_mtime
        if age < request.settle_seconds:
            detail = f"written {age:.0f} s ago (under {request.settle_seconds} s): left for the next run"
            report.files.append(WatchedFile(name=path.name, outcome="waiting", detail=detail))
            continue
        report.files.append(await _take(client, engine, path, archive, today, ours, task_queue))
    _missing_statements(engine, report, today, calendar or CalendarSpec())
    return report


async def _take(
    client: Client, engine: Engine, path: Path, archive: Path, today: date, ours: frozenset[str], task_queue: str
) -> WatchedFile:
    size = path.stat().st_size
    data = path.read_bytes() if size <= MAX_BYTES else b""
    digest = hashlib.sha256(data).hexdigest()
    accounts: list[str] = []
    statement_id: str | None = None
    if size > MAX_BYTES:
        outcome, detail = "refused", f"the file is {size:,} bytes; a statement over {MAX_BYTES:,} is refused"
    elif (earlier := file_taken(engine, digest)) is not None:
        outcome = "duplicate"
        detail = f"the same content as {earlier.name}, imported on {earlier.received_on}: nothing applied again"
    else:
        try:
            statement = read_statement(data)
        except StatementRefused as exc:
            outcome, detail = "refused", f"nothing applied: {exc}"
        else:
            statement_id = f"{statement.format} {statement.statement_id}"
            accounts = sorted({e.account for e in statement.entries} | {statement.account})
            if foreign := unknown_accounts(statement, ours):
                outcome = "unknown_account"
                detail = f"nothing applied: account {', '.join(foreign)} is not one of ours (RELANCE_BANK_ACCOUNTS)"
                create_review_task(
                    engine, f"bank-file:{digest}", f"The statement file {path.name} is for {', '.join(foreign)}, "
                    "which is not one of our accounts: nothing was applied. Add the account to RELANCE_BANK_ACCOUNTS "
                    "and import the file again from the archive, or discard it.", invoice_id="", customer_id="",
                    due_on=today, kind="bank_file",
                )  # fmt: skip
            else:
                summary = await import_statement(client, engine, statement, today=today, task_queue=task_queue)
                outcome = "imported"
                totals = summary.totals()
                detail = ", ".join(f"{t['count']} {d}" for d, t in sorted(totals.items())) or "no entry"
    where = (
        archive / today.isoformat() if outcome in ("imported", "duplicate") else archive / "refused" / today.isoformat()
    )
    moved = _move(path, where)
    record_file(engine, sha256=digest, name=path.name, received_on=today, outcome=outcome, accounts=accounts,
                statement=statement_id, detail=detail, archived_to=str(moved))  # fmt: skip
    return WatchedFile(name=path.name, outcome=outcome, detail=detail, archived_to=str(moved))


def _move(path: Path, folder: Path) -> Path:
    """Into the archive under its own name, or with a number when that name is taken there."""
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}.{n}{path.suffix}"
    shutil.move(str(path), target)
    return target


def _missing_statements(engine: Engine, report: WatchReport, today: date, calendar: CalendarSpec) -> None:
    """An account that had its statement the business day before and has none today needs a person."""
    if not is_contact_day(today, calendar):
        return
    before = today - timedelta(days=1)
    while not is_contact_day(before, calendar):
        before -= timedelta(days=1)
    report.missing = sorted(accounts_on(engine, before) - accounts_on(engine, today))
    for account in report.missing:
        create_review_task(
            engine, f"bank-missing:{account}:{today}", f"No statement came for account {account} on {today}, though "
            f"one came on {before}. Ask the bank (or the connection) for it: payments it holds reach no case until "
            "it is imported.", invoice_id="", customer_id="", due_on=today, kind="bank_missing",
        )  # fmt: skip


class BankWatcher:
    """The activity the `BankWatch` workflow runs, on the worker's client and ledger."""

    def __init__(self, client: Client, settings: Settings, engine: Engine):
        self.client, self.settings, self.engine = client, settings, engine

    @activity.defn(name=IMPORT_BANK_FOLDER)
    async def import_bank_folder(self, request: WatchRequest) -> WatchReport:
        calendar = CalendarSpec()  # Paris, French holidays, business days: when banks send statements
        today = local_day(datetime.now(UTC), calendar)
        ours, queue = self.settings.our_bank_accounts, self.settings.task_queue
        report = await watch_folder(
            self.client, self.engine, request, today=today, ours=ours, task_queue=queue, calendar=calendar
        )
        activity.logger.info("bank watch %s", report.line())
        return report


async def set_up_watch(client: Client, request: WatchRequest, *, hour: int, minute: int, task_queue: str) -> str:
    """The schedule that runs the watch each business morning (Monday to Friday, Paris time): created, or
    updated to this folder and time when it exists. A run still going when the next is due is not doubled."""
    start = ScheduleActionStartWorkflow(
        "BankWatch", request, id="bank-watch", task_queue=task_queue, static_summary=f"statements in {request.folder}"
    )
    mornings = ScheduleCalendarSpec(
        hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)], day_of_week=[ScheduleRange(1, 5)]
    )
    schedule = Schedule(
        action=start,
        spec=ScheduleSpec(calendars=[mornings], time_zone_name="Europe/Paris"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(WATCH_SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(WATCH_SCHEDULE_ID).update(lambda _: ScheduleUpdate(schedule=schedule))
        return "updated"
