"""The bare baseline: one workflow that runs one activity posting the same e-mail through the real SendGrid
client. What Temporal itself costs on this machine, for the benchmark to compare Relance against.

`python -m bench.bare worker` polls the `bare` task queue until stopped (same settings as `relance worker`).
"""

import asyncio
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

TASK_QUEUE = "bare"


@activity.defn(name="post_reminder")
def post_reminder(invoice_id: str) -> str:
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import CustomArg, Mail

    mail = Mail(
        from_email=("relances@example.com", "Relance Demo SAS"),
        to_emails=[(f"compta@{invoice_id.lower()}.example", "Client")],
        subject=f"Rappel : facture {invoice_id}",
        plain_text_content=f"Bonjour, la facture {invoice_id} reste impayée.",
    )
    mail.add_custom_arg(CustomArg("relance_key", f"bare-{invoice_id}:reminder-1"))
    client = SendGridAPIClient(api_key=os.environ["SENDGRID_API_KEY"], host=os.environ["SENDGRID_API_HOST"])
    response = client.send(mail)
    return str(response.headers.get("X-Message-Id"))


@workflow.defn(name="BareReminder")
class BareReminder:
    @workflow.run
    async def run(self, invoice_id: str) -> str:
        return await workflow.execute_activity(post_reminder, invoice_id, start_to_close_timeout=timedelta(minutes=2))


async def run_worker() -> None:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[BareReminder],
        activities=[post_reminder],
        activity_executor=ThreadPoolExecutor(max_workers=16),
    )
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    if sys.argv[1:] != ["worker"]:
        sys.exit("usage: python -m bench.bare worker")
    asyncio.run(run_worker())
