"""The worker process: the collection workflow and its activities on one task queue."""

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.case_opening import CaseOpener
from activities.closed_case import ClosedCases
from activities.customer_voice import CustomerVoice
from activities.debtor_contact import DebtorContact
from activities.debtor_notice import DebtorNotices
from activities.direct_debit import DirectDebits
from activities.email_delivery import EmailBackend, OutboxBackend, SendGridBackend
from activities.ledger import LedgerWriter
from activities.legal_escalation import LegalEscalation
from activities.letter_delivery import PrintOutbox
from activities.policy_resolution import PolicyResolution
from activities.postal_reminder import PostalReminders
from activities.sms_delivery import SmsReminders, sms_backend
from relance.converter import key_ring
from relance.ledger.db import engine_for
from relance.ledger.einvoices import Seller
from relance.ledger.reports import open_cases_by_stage
from relance.logs import configure_logging
from relance.rates.table_file import coverage_warning
from relance.settings import Settings
from starter.bank_watch import BankWatcher
from starter.connect import connect
from starter.einvoicing import send_outbox
from starter.key_check import KeyRingMismatch, check_ring_against
from starter.namespace import CANNOT_LIST, NO_VISIBILITY, missing_attributes, retired_cases
from workflows import BankWatch, CustomerAccount, DebtorNoticeWorkflow, InvoiceCollection
from workflows.sandbox import workflow_runner


class WorkerConfigError(Exception):
    """The worker cannot start as configured; the message says what to fix."""


def email_backend(settings: Settings) -> EmailBackend:
    if settings.email_backend == "sendgrid":
        if settings.sendgrid_api_key is None:
            raise WorkerConfigError("RELANCE_EMAIL_BACKEND=sendgrid needs SENDGRID_API_KEY")
        return SendGridBackend(settings.sendgrid_api_key.get_secret_value(), settings.sendgrid_api_host)
    return OutboxBackend(settings.outbox_dir)


def seller_of(settings: Settings) -> Seller | None:
    """Who we are to the e-invoicing platforms, when set (RELANCE_CREDITOR_SIREN): payments then owe a 212."""
    if not settings.creditor_siren:
        return None
    return Seller(settings.creditor_siren, settings.creditor_name, settings.einvoicing_address)


def build_worker(client: Client, settings: Settings, *, task_queue: str | None = None) -> Worker:
    engine = engine_for(settings.database_url)
    contact = DebtorContact(client, settings, email_backend(settings), engine)
    policies = PolicyResolution(settings.policy_dir, settings.template_dir, engine, demo_clocks=settings.demo_mode)
    ledger = LedgerWriter(engine, seller_of(settings))
    letters = PrintOutbox(settings.letter_outbox_dir)
    legal = LegalEscalation(client, settings, letters, engine)
    post = PostalReminders(contact, letters)
    try:
        texts = SmsReminders(contact, sms_backend(settings))
    except ValueError as err:  # the twilio backend without its account: said as the e-mail backend says it
        raise WorkerConfigError(str(err)) from None
    debits = DirectDebits(client, settings, engine)
    watcher = BankWatcher(client, settings, engine)
    notices = DebtorNotices(contact)
    voice = CustomerVoice(client, contact, task_queue or settings.task_queue)
    opener = CaseOpener(ledger, voice, policies)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[InvoiceCollection, CustomerAccount, BankWatch, DebtorNoticeWorkflow],
        workflow_runner=workflow_runner(client.data_converter),
        activities=[
            policies.resolve_policy,
            contact.send_email,
            contact.send_email_alone,
            contact.create_phone_task,
            contact.create_phone_task_alone,
            notices.send_debtor_notice,
            ledger.record_case,
            ledger.record_refused_start,
            legal.send_formal_notice,
            post.send_letter,
            texts.send_sms,
            legal.prepare_court_dossier,
            legal.hand_off_to_agency,
            debits.represent_direct_debit,
            watcher.import_bank_folder,
            voice.report_to_customer,
            opener.open_case,
            opener.open_case_counted,
            opener.open_case_quiet,
            opener.open_new_case,
            voice.send_customer_messages,
            voice.tell_cases,
            voice.read_cases,
            voice.read_open_cases,
            voice.set_customer_hold,
            ClosedCases(client).read_closed_case,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=16),
        build_id=settings.build_id,
        graceful_shutdown_timeout=timedelta(seconds=30),
        max_cached_workflows=settings.worker_cache_size,
    )


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics (the SDK's and ours) at RELANCE_METRICS_ADDRESS."""
    if settings.metrics_address is None:
        return None
    prometheus = PrometheusConfig(bind_address=settings.metrics_address, counters_total_suffix=True)
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def publish_stages(runtime: Runtime, settings: Settings) -> None:
    """Keep the `relance_open_cases{stage}` gauge current from the ledger (a stage emptied drops to 0)."""
    gauge = runtime.metric_meter.create_gauge("relance_open_cases", "open cases, by stage (from the ledger)")
    engine = engine_for(settings.database_url)
    seen: set[str] = set()
    while True:
        try:
            counts = await asyncio.to_thread(open_cases_by_stage, engine)
        except Exception as err:  # the dashboard must not stop the worker; the next round tries again
            logging.getLogger("relance").warning("open cases per stage not read: %s", type(err).__name__)
        else:
            for stage in seen | set(counts):
                gauge.set(counts.get(stage, 0), {"stage": stage})
            seen |= set(counts)
        await asyncio.sleep(settings.metrics_refresh_seconds)


async def run_worker(settings: Settings) -> None:
    """Poll until SIGTERM or SIGINT, then stop taking work and let running activities finish."""
    runtime = metrics_runtime(settings)
    client = await connect(settings, runtime)
    log = logging.getLogger("relance")
    ring = key_ring(settings)
    if ring is None:
        log.warning("payload encryption is OFF (RELANCE_PAYLOAD_ENCRYPTION=off): debtor data is stored in clear")
    else:
        try:
            checked = await check_ring_against(client)
        except KeyRingMismatch as err:
            raise WorkerConfigError(str(err)) from None
        against = f", checked against {checked}" if checked else ""
        log.info("payloads encrypted with key %s (ring: %s)%s", ring.current, ", ".join(ring.keys), against)
    missing = await missing_attributes(client, settings.temporal_namespace)
    if missing is None:
        log.warning("%s: if cases fail to set them, run `relance setup` against this server once", CANNOT_LIST)
    elif missing:
        raise WorkerConfigError(
            f"namespace {settings.temporal_namespace} lacks the case search attributes {', '.join(missing)}: "
            "run `relance setup` first"
        )
    retired = await retired_cases(client)
    if retired is None:
        log.warning("%s", NO_VISIBILITY)
    elif retired.count:
        raise WorkerConfigError(retired.refusal(settings.temporal_namespace))
    gap = coverage_warning(settings.rates_file, date.today())
    if gap is not None:
        log.warning("%s", gap)
    worker = build_worker(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    publishing = asyncio.create_task(publish_stages(runtime, settings)) if runtime is not None else None
    cdar = asyncio.create_task(send_cdar(settings)) if settings.creditor_siren else None
    async with worker:
        if settings.metrics_address:
            log.info("metrics on http://%s/metrics", settings.metrics_address)
        log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        await stop.wait()
        for task in (publishing, cdar):
            if task is not None:
                task.cancel()
        log.info("worker stopping: finishing running activities")


async def send_cdar(settings: Settings, every_seconds: float = 60) -> None:
    """Write and post the CDAR the ledger queued with each payment on an e-invoice ("212 Encaissée")."""
    engine = engine_for(settings.database_url)
    while True:
        try:
            await send_outbox(engine, settings)
        except Exception as err:  # the outbox waits for the next round; the worker goes on
            logging.getLogger("relance").warning("e-invoicing outbox not sent: %s", type(err).__name__)
        await asyncio.sleep(every_seconds)


def main(settings: Settings) -> None:
    configure_logging(settings.log_format == "json")
    asyncio.run(run_worker(settings))
