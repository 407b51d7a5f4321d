"""How workflows retry the activities that reach a debtor."""

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

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

# A message step tried in the workflow task itself (a local activity) tries once: what is worth retrying goes
# through the server, with STEP_RETRY and the last check made again at each attempt.
HERE_ONCE = RetryPolicy(maximum_attempts=1)


def worth_retrying(cause: ApplicationError | None) -> bool:
    """Whether a message step that failed its one try in the workflow task may still succeed through the server's
    retries: not a refusal or a broken template; a timeout or a worker lost (no application failure) may."""
    if cause is None:
        return True
    return not (cause.non_retryable or cause.type in (STEP_RETRY.non_retryable_error_types or ()))
