"""DebtorNotice: one message the debtor asked for (relance/domain/notices.py), sent once per key. The run's id is
the key, so a second request for the same notice finds the first; the activity keys the delivery too."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from relance.domain.notices import SEND_DEBTOR_NOTICE, DebtorNotice


@workflow.defn(name="DebtorNotice")
class DebtorNoticeWorkflow:
    @workflow.run
    async def run(self, notice: DebtorNotice) -> str:
        sent: str = await workflow.execute_activity(
            SEND_DEBTOR_NOTICE,
            notice,
            result_type=str,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(
                maximum_interval=timedelta(minutes=10),
                maximum_attempts=20,
                non_retryable_error_types=["DeliveryRefused", "TemplateError"],
            ),
            summary=f"{notice.kind} to {notice.customer_id}",
        )
        return sent
