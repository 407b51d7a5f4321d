"""How workflows retry the activities that reach a debtor."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# What reaches a debtor is retried for as long as a provider outage lasts (each attempt re-checks the
# balance and the sending window); a refusal or a broken template is not. The same for a case sending
# alone and for a customer's account sending for several.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    non_retryable_error_types=["DeliveryRefused", "TemplateError"],
)

# Bookkeeping (the ledger, an account's hold): retried for as long as the database is away.
LEDGER_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
