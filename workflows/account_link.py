"""The case's side of "one voice per customer": it tells its customer's account what happens to it, and hands
its message steps to the account, which sends them alone or with the customer's other invoices due then."""

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

from workflows.case_activities import report_to_customer
from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from relance.domain.account import CaseClosed, CaseOpened, CustomerReport, MessageDue
    from relance.domain.activity_contract import StepRequest, StepResult
    from relance.domain.case import CaseState
    from relance.domain.policy import StepAction

ASK_ACCOUNT_AGAIN_AFTER = timedelta(hours=1)  # a message step handed to the account that got no answer
MAX_GROUPING_SPEED = 600.0  # a demo clock faster than a day in 2.4 minutes sends its messages itself


class AccountLink:
    """Reports to the customer's account (signal-with-start) and waits for its answers (`outcomes`, filled by
    the case's `message_outcome` signal)."""

    def __init__(self, state: CaseState) -> None:
        self.state = state
        self.outcomes: dict[str, StepResult] = {}

    def groups_messages(self) -> bool:
        """Message steps go through the account, except on demo clocks so fast that a sending window lasts
        about a second: the round trip to the account would miss it; they send alone."""
        return self.state.clock.speed <= MAX_GROUPING_SPEED

    async def opened(self) -> None:
        await report_to_customer(self.opened_report())

    def opened_report(self) -> CustomerReport:
        """The account learns of the case: its own report, or with the case's first ledger write (open_case)."""
        case = self.state.case
        info = CaseOpened(
            case_id=workflow.info().workflow_id,
            invoice_id=case.invoice_id,
            due_date=case.due_date,
            currency=case.currency,
        )
        return self._report_of("case_opened", info)

    async def closed(self) -> None:
        outcome = self.state.outcome.value if self.state.outcome else "closed"
        await self._report("case_closed", CaseClosed(case_id=workflow.info().workflow_id, outcome=outcome))

    async def send(self, action: StepAction, request: StepRequest) -> StepResult:
        """The account's answer for this step: sent (alone or grouped), postponed, or failed."""
        channel = "email" if action is StepAction.email else "phone"
        due = MessageDue(
            case_id=workflow.info().workflow_id,
            channel=channel,
            request=request,
            speed=self.state.clock.speed,
            waits_a_day=patched("contact-day-v1"),
            in_batch=self.state.case.customer_invoices_in_batch,  # None before v19: the field did not exist
            customer_cases=None if (others := self.state.others_open_at_start) is None else others + 1,
        )
        step_id = request.step_id

        def answered() -> bool:
            return step_id in self.outcomes

        self.outcomes.pop(step_id, None)
        await self._report("message_due", due)
        while not answered():
            try:
                await workflow.wait_condition(answered, timeout=ASK_ACCOUNT_AGAIN_AFTER)
            except TimeoutError:
                await self._report("message_due", due)  # the account answers again if it already had
        return self.outcomes.pop(step_id)

    async def _report(self, signal: str, payload: BaseModel) -> None:
        await report_to_customer(self._report_of(signal, payload))

    def _report_of(self, signal: str, payload: BaseModel) -> CustomerReport:
        return CustomerReport(
            customer_id=self.state.case.customer.id, signal=signal, payload=payload.model_dump(mode="json")
        )
