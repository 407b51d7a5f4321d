"""Every activity an invoice case runs, with its timeout, retries and the summary the Temporal UI shows.

The workflow reads as the collection process and calls these; what each activity does is in activities/.
"""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.ops_handlers import shown_name
from workflows.retries import HERE_ONCE, LEDGER_RETRY, STEP_RETRY, worth_retrying

with workflow.unsafe.imports_passed_through():
    from relance.domain.account import (
        OPEN_CASE,
        OPEN_CASE_COUNTED,
        OPEN_CASE_QUIET,
        OPEN_NEW_CASE,
        REPORT_TO_CUSTOMER,
        CaseOpening,
        CaseToOpen,
        CustomerReport,
        OpenedCase,
        OpeningResult,
    )
    from relance.domain.activity_contract import (
        CREATE_PHONE_TASK,
        HAND_OFF_TO_AGENCY,
        PREPARE_COURT_DOSSIER,
        READ_CLOSED_CASE,
        RECORD_CASE,
        RECORD_REFUSED_START,
        REFUSED_AT_START,
        RESOLVE_POLICY,
        SEND_EMAIL,
        SEND_FORMAL_NOTICE,
        SEND_LETTER,
        SEND_SMS,
        ClosedRun,
        LedgerUpdate,
        RefusedStart,
        StepRequest,
        StepResult,
    )
    from relance.domain.case import CaseState
    from relance.domain.invoice import CaseInput
    from relance.domain.limits import excerpt
    from relance.domain.policy import Policy, StepAction

ACTIVITY_FOR_ACTION = {
    StepAction.email: SEND_EMAIL,
    StepAction.phone_task: CREATE_PHONE_TASK,
    StepAction.formal_notice: SEND_FORMAL_NOTICE,
    StepAction.injonction_dossier: PREPARE_COURT_DOSSIER,
    StepAction.agency_handoff: HAND_OFF_TO_AGENCY,
    StepAction.letter: SEND_LETTER,
    StepAction.sms: SEND_SMS,
}
POLICY_RETRY = RetryPolicy(
    maximum_interval=timedelta(minutes=5), non_retryable_error_types=["NoPolicy", *REFUSED_AT_START]
)
# A refused start still fails promptly when the ledger is down: the refusal is in the failure itself too.
REFUSAL_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)
STEP_TIMEOUT = timedelta(minutes=2)  # one attempt of a message step, in the task or through the server


def failure_of(err: ActivityError | ApplicationError) -> ApplicationError | None:
    """The application failure behind an activity that failed for good: wrapped in an ActivityError for an
    activity, as is for a local activity."""
    if isinstance(err, ApplicationError):
        return err
    return err.cause if isinstance(err.cause, ApplicationError) else None


def failure_detail(err: ActivityError | ApplicationError) -> str:
    """What a step that failed for good records: the application's message, else its cause's (a timeout)."""
    cause = failure_of(err)
    return cause.message if cause is not None else str(err.cause or err)


async def _bookkeeping(activity: str, arg: Any, summary: str, *, retry: RetryPolicy, result_type: Any = None) -> Any:
    """Choosing a policy, writing the ledger and telling the customer's account run as local activities: in
    the worker, within the case's workflow task, instead of a round trip through the server for each. Each is
    short and idempotent (a read, an upsert, a signal the account takes once per case and step), which is
    what a local activity may be."""
    timeout = timedelta(seconds=30)
    return await workflow.execute_local_activity(
        activity, arg, result_type=result_type, start_to_close_timeout=timeout, retry_policy=retry, summary=summary
    )


async def resolve_policy(case: CaseInput) -> Policy:
    summary = f"choose policy for {case.invoice_id}"
    policy: Policy = await _bookkeeping(RESOLVE_POLICY, case, summary, retry=POLICY_RETRY, result_type=Policy)
    return policy


async def run_step(activity: str, request: StepRequest, label: str) -> StepResult:
    """A step that reaches a debtor or a third party, through the server; an ActivityError when it failed for
    good."""
    result: StepResult = await through_server(
        activity, request, result_type=StepResult, summary=f"{label} for {request.invoice_id}"
    )
    return result


async def through_server(activity: str, arg: Any, *, result_type: Any, summary: str) -> Any:
    """A message step through the server, retried with STEP_RETRY (each attempt checks the case again); an
    ActivityError when it failed for good."""
    return await workflow.execute_activity(
        activity, arg, result_type=result_type, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
        summary=summary,
    )  # fmt: skip


async def run_here_first(
    activity: str,
    here: Any,
    server_arg: Any,
    *,
    result_type: Any,
    summary: str,
    before_server: Callable[[], None] = lambda: None,
) -> Any:
    """A message step tried once in the workflow task (generation v20: a local activity, no round trip through the
    server, given `here`), then `through_server` (given `server_arg`) when that try failed in a way worth
    retrying. A final failure is raised: the local activity's, or the activity's ActivityError. The step's claim
    keeps it at most once across both routes."""
    try:
        return await workflow.execute_local_activity(
            activity, here, result_type=result_type, start_to_close_timeout=STEP_TIMEOUT, retry_policy=HERE_ONCE,
            summary=summary,
        )  # fmt: skip
    except (ActivityError, ApplicationError) as err:
        if not worth_retrying(failure_of(err)):
            raise
    before_server()
    return await through_server(activity, server_arg, result_type=result_type, summary=summary)


async def read_closed_case(run: ClosedRun) -> CaseState:
    """The state a closed run of this case ended with (a reopening goes on from it)."""
    state: CaseState = await workflow.execute_activity(
        READ_CLOSED_CASE,
        run,
        result_type=CaseState,
        start_to_close_timeout=timedelta(minutes=1),
        retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), non_retryable_error_types=["NoClosedRun"]),
        summary=f"read the closed run {run.run_id}",
    )
    return state


async def record_case(update: LedgerUpdate) -> None:
    await _bookkeeping(RECORD_CASE, update, f"ledger for {update.case.invoice_id}", retry=LEDGER_RETRY, result_type=int)


async def record_refused_start(refused: RefusedStart) -> None:
    await workflow.execute_activity(
        RECORD_REFUSED_START,
        refused,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=REFUSAL_RETRY,
        summary="record the refused start",
    )


async def report_to_customer(report: CustomerReport) -> None:
    """Tell the customer's account (signal-with-start: the account starts on the first report)."""
    await _bookkeeping(
        REPORT_TO_CUSTOMER, report, f"{report.signal} to customer {report.customer_id}", retry=LEDGER_RETRY
    )


async def open_case(opening: CaseOpening) -> None:
    """A new case's first ledger write and its first report to its account, as one local activity."""
    summary = f"open {opening.ledger.case.invoice_id} in the ledger and with customer {opening.report.customer_id}"
    await _bookkeeping(OPEN_CASE, opening, summary, retry=LEDGER_RETRY, result_type=int)


async def open_case_counted(opening: CaseOpening) -> OpeningResult:
    """`open_case`, answering how many other open cases the customer has (generation v17: a lone case speaks
    for itself)."""
    summary = f"open {opening.ledger.case.invoice_id} in the ledger and with customer {opening.report.customer_id}"
    result: OpeningResult = await _bookkeeping(
        OPEN_CASE_COUNTED, opening, summary, retry=LEDGER_RETRY, result_type=OpeningResult
    )
    return result


async def open_case_quiet(update: LedgerUpdate) -> OpeningResult:
    """The case's first ledger write, answering the customer's other open cases and hold; its account is not
    told (generation v18: a case costs its customer no account until a message or an operator needs one)."""
    summary = f"open {update.case.invoice_id} in the ledger"
    result: OpeningResult = await _bookkeeping(
        OPEN_CASE_QUIET, update, summary, retry=LEDGER_RETRY, result_type=OpeningResult
    )
    return result


async def open_new_case(opening: CaseToOpen) -> OpenedCase:
    """A new case's policy chosen, its first ledger write, and its customer's other open cases and hold, in one
    local activity (generation v19); refused like `resolve_policy` when no policy takes the case."""
    summary = f"choose the policy of {opening.state.case.invoice_id} and open it in the ledger"
    result: OpenedCase = await _bookkeeping(OPEN_NEW_CASE, opening, summary, retry=POLICY_RETRY, result_type=OpenedCase)
    return result


async def refuse_start(reason: str, args: Sequence[Any]) -> NoReturn:
    """Fail the case at once, naming what is wrong, and keep the refusal in the ledger."""
    first = args[0] if args else None
    invoice_id = first.get("invoice_id") if isinstance(first, dict) else None
    refused = RefusedStart(
        workflow_id=shown_name(workflow.info().workflow_id),
        invoice_id=shown_name(invoice_id) if isinstance(invoice_id, str) else None,
        reason=reason,
        payload=excerpt(list(args)),
    )
    try:
        await record_refused_start(refused)
    except ActivityError:
        workflow.logger.warning("refused start not written to the ledger: %s", reason)
    raise ApplicationError(f"case refused: {reason}", type="InvalidCase", non_retryable=True)
