"""BankWatch: what the morning schedule runs. One activity takes every statement the bank dropped in the
folder (activities/bank_watch.py); the workflow only gives it time and retries, and returns its report."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from relance.domain.bank_watch import IMPORT_BANK_FOLDER, WatchReport, WatchRequest


@workflow.defn(name="BankWatch")
class BankWatch:
    @workflow.run
    async def run(self, request: WatchRequest) -> WatchReport:
        report: WatchReport = await workflow.execute_activity(
            IMPORT_BANK_FOLDER,
            request,
            result_type=WatchReport,
            start_to_close_timeout=timedelta(minutes=30),
            # a failure mid-folder is safe to retry: a file is archived only once imported, entries are idempotent
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=10),
            summary=f"import the statements in {request.folder}",
        )
        return report
