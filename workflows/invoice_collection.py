"""InvoiceCollection: one durable workflow per unpaid invoice.

The case sleeps until its next event (a policy step, a promise or installment deadline, the end of a
pause), runs it, and starts over, until the invoice is paid, written off, cancelled or its policy ends.
Ops actions arrive as updates (validated, answering the new status) or as signals of the same name
(for systems that can only fire events; a bad one is recorded as rejected).
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from workflows.case_activities import (
    ACTIVITY_FOR_ACTION,
    record_case,
    refuse_start,
    report_to_customer,
    resolve_policy,
    run_step,
)
from workflows.ops_handlers import (
    TakesOpsActions,
    ops_actions,
    parse_payload,
    read_signal,
)
from workflows.search_attributes import upsert_changed_attributes

with workflow.unsafe.imports_passed_through():
    from relance.domain import planning
    from relance.domain.account import (
        CaseClosed,
        CaseOpened,
        CustomerHoldNotice,
        CustomerReleaseNotice,
        CustomerReport,
        MessageDue,
        MessageOutcome,
    )
    from relance.domain.actions import OPS_ACTIONS, Action, ReapplyPolicy
    from relance.domain.activity_contract import (
        CREATE_PHONE_TASK,
        REFUSED_AT_START,
        SEND_EMAIL,
        InstallmentDue,
        LegalStepRequest,
        StepRequest,
        StepResult,
        ledger_update,
        legal_request,
        step_request,
    )
    from relance.domain.case import CaseState, CaseStatus, NextEvent, Outcome, Rejected, SeenAt, StepRecord
    from relance.domain.case_legal import enter_legal_stage
    from relance.domain.case_start import RunOptions, StartRefused, read_start
    from relance.domain.clock import CaseClock
    from relance.domain.invoice import CaseInput
    from relance.domain.policy import LEGAL_ACTIONS, Policy, Step, StepAction

M = TypeVar("M", bound=BaseModel)
EMAIL_UNREACHABLE_TEMPLATE = "email_unreachable"  # the phone task that replaces an e-mail that cannot arrive
LIMITATION_WARNING_TEMPLATE = "limitation_warning"  # the task that tells a person to interrupt limitation
ASK_ACCOUNT_AGAIN_AFTER = timedelta(hours=1)  # a message step handed to the account that got no answer
MAX_GROUPING_SPEED = 600.0  # a demo clock faster than a day in 2.4 minutes sends its messages itself


@workflow.defn(name="InvoiceCollection")
@ops_actions(OPS_ACTIONS)
class InvoiceCollection(TakesOpsActions):
    """Started with one argument, the case JSON (see relance.domain.case_start for the contract)."""

    noun = "case"
    known_signals = tuple(a.name for a in OPS_ACTIONS)
    known_updates = (*known_signals, ReapplyPolicy.name)

    @workflow.init
    def __init__(self, *args: Any) -> None:
        info = workflow.info()
        self._refusal: str | None = None
        self._options = RunOptions()
        try:
            case, self._options = read_start(
                args, workflow_id=info.workflow_id, continued=info.continued_run_id is not None
            )
        except StartRefused as err:
            self._refusal = str(err)
        else:
            if self._options.carried is not None:
                self.state = self._options.carried
            else:
                clock = CaseClock.anchor(workflow.now(), case.clock)
                self.state = CaseState.open(case, clock, clock.case_time(workflow.now()))
        self._version = 0
        self._next: NextEvent | None = None
        self._outcomes: dict[str, StepResult] = {}
        self._shown: list[Any] = []

    # ---- the collection process ------------------------------------------------------------------

    @workflow.run
    async def run(self, *args: Any) -> CaseStatus:
        if self._refusal is not None:
            await refuse_start(self._refusal, args)
        options = self._options
        state = self.state
        case = state.case
        try:
            if state.policy is None:
                policy = await self._first_policy(case, args)
                state.policy = policy
                why = f"; {policy.selected_for}" if policy.selected_for else ""
                state.record(self.now(), "policy_resolved", f"policy {policy.label} chosen for the case{why}")
                self._changed()
                if self._speaks_through_account():
                    case_info = CaseOpened(
                        case_id=workflow.info().workflow_id,
                        invoice_id=case.invoice_id,
                        due_date=case.due_date,
                        currency=case.currency,
                    )
                    await self._report("case_opened", case_info)
            while True:
                await self._sync_ledger()
                if state.closed:  # re-checked after every await: an update may have closed the case meanwhile
                    break
                if self._history_is_long(options):
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    if workflow.patched("trim-carried-history-v1"):
                        state.trim_history(options.keep_history)
                    carried = options.model_copy(update={"carried": state})
                    workflow.continue_as_new(args=[carried])
                self._next = planning.next_event(state, self.now(), commit=True)
                self._show_details()
                if self._next is None:
                    await self._wait_for_change()
                elif await self._sleep_until(self._next):
                    await self._fire(self._next)
            self._next = None
            self._show_details()
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._speaks_through_account():
                outcome = state.outcome.value if state.outcome else "closed"
                await self._report("case_closed", CaseClosed(case_id=workflow.info().workflow_id, outcome=outcome))
            await self._sync_ledger()
            return self._status()
        except (asyncio.CancelledError, ActivityError) as err:
            # a cancellation reaches us as CancelledError, or wrapped in the activity it interrupted
            if not is_cancelled_exception(err):
                raise
            if not state.closed:
                state.close(self.now(), Outcome.cancelled, "case cancelled in Temporal")
            if workflow.patched("ledger-on-cancel-v1"):  # cancellation was delivered: activities run again
                self._next = None
                self._show_details()
                await self._sync_ledger()
            raise

    async def _fire(self, event: NextEvent) -> None:
        state, now = self.state, max(self.now(), event.at)
        match event.kind:
            case "step":
                assert event.index is not None
                await self._run_step(event.index, now)
            case "promise_check":
                state.check_promise(now)
            case "installment_check":
                state.check_installment(now)
            case "installment_reminder":
                await self._remind_installment(now)
            case "resume":
                state.lift_expired_pause(now)
            case "limitation_warning":
                await self._warn_limitation(event, now)
            case "close":
                state.close(
                    now,
                    Outcome.policy_completed,
                    f"policy completed; {state.balance} {state.case.currency} still unpaid",
                )
        self._changed()

    async def _run_step(self, index: int, now: datetime) -> None:
        state, policy = self.state, self._policy
        step = policy.steps[index]
        blocker = planning.step_blocker(state, index, self.now())
        if blocker is not None:
            state.step_done(now, StepRecord(step_id=step.id, at=now, status="skipped", detail=blocker))
            state.advance_past(index, now)
            return
        if step.action in LEGAL_ACTIONS:
            request: StepRequest = self._legal_request(step, now)
        else:
            template = step.template
            if (
                step.action is StepAction.email
                and state.flags.email_invalid
                and workflow.patched("channel-fallback-v1")
            ):
                return await self._email_unreachable(index, now)
            request = self._request(step.id, template, now)
        request.assignee = step.assignee
        via_account = step.action in (StepAction.email, StepAction.phone_task) and self._groups_messages()
        if via_account:
            result = await self._through_account(step.action, request)
        else:
            result = await self._execute(ACTIVITY_FOR_ACTION[step.action], request, step.id)
        if result is None:
            if step.action is StepAction.email and state.flags.email_invalid:
                return await self._email_unreachable(index, now)
            state.advance_past(index, now)
            return
        if result.status in ("deferred", "skipped_paused"):
            state.record(self.now(), "step_postponed", f"{step.id}: {result.detail}", step_id=step.id)
            return
        status = "skipped" if result.status == "skipped_settled" else "done"
        state.step_done(
            self.now(),
            StepRecord(
                step_id=step.id,
                at=now if via_account else self.now(),  # grouped steps are dated at their slot, not the send
                status=status,
                detail=result.detail,
                channel=result.channel,
                provider_id=result.provider_id,
            ),
        )
        if status == "done" and step.action in LEGAL_ACTIONS:
            enter_legal_stage(
                self.state, step, self.now(), result.document, result.provider_id, result.route, result.court
            )
        state.advance_past(index, self.now())

    # ---- the customer's account: one voice for all of a customer's invoices ---------------------------

    def _speaks_through_account(self) -> bool:
        """Cases started with this version hand their message steps to their customer's account."""
        return workflow.patched("customer-voice-v1")

    def _groups_messages(self) -> bool:
        """Message steps go through the account, except on demo clocks so fast that a sending window lasts
        about a second: the round trip to the account would miss it; they send alone."""
        return self._speaks_through_account() and self.state.clock.speed <= MAX_GROUPING_SPEED

    async def _report(self, signal: str, payload: BaseModel) -> None:
        report = CustomerReport(
            customer_id=self.state.case.customer.id, signal=signal, payload=payload.model_dump(mode="json")
        )
        await report_to_customer(report)

    async def _through_account(self, action: StepAction, request: StepRequest) -> StepResult | None:
        """The account sends this step, alone or with the customer's other invoices due at the same time."""
        channel = "email" if action is StepAction.email else "phone"
        due = MessageDue(
            case_id=workflow.info().workflow_id, channel=channel, request=request, speed=self.state.clock.speed
        )
        self._outcomes.pop(request.step_id, None)
        await self._report("message_due", due)
        while request.step_id not in self._outcomes:
            try:
                await workflow.wait_condition(
                    lambda: request.step_id in self._outcomes, timeout=ASK_ACCOUNT_AGAIN_AFTER
                )
            except TimeoutError:
                await self._report("message_due", due)  # the account answers again if it already had
        result = self._outcomes.pop(request.step_id)
        if result.status == "failed":
            refused = channel == "email" and result.error_type == "DeliveryRefused"
            self._step_failed(request, request.step_id, result.detail, email_refused=refused)
            return None
        return result

    def _signal(self, model: type[M], name: str, args: Sequence[Any]) -> M | None:
        """A signal's payload, or None once its refusal is recorded (a case refused at start takes nothing)."""
        if self._refusal is not None:
            return None
        return read_signal(model, name, args, self._refuse)

    @workflow.signal(name="message_outcome")
    def message_outcome(self, *args: Any) -> None:
        if (outcome := self._signal(MessageOutcome, "message_outcome", args)) is not None:
            self._outcomes[outcome.step_id] = outcome.result

    @workflow.signal(name="customer_hold")
    def customer_hold(self, *args: Any) -> None:
        if (hold := self._signal(CustomerHoldNotice, "customer_hold", args)) is None:
            return
        self.state.hold_for_customer(hold.kind, hold.reason, hold.until, self.now())
        self._changed()

    @workflow.signal(name="customer_release")
    def customer_release(self, *args: Any) -> None:
        release = self._signal(CustomerReleaseNotice, "customer_release", args)
        if release is None or self.state.customer_hold is None:
            return
        self.state.release_for_customer(release.by, self.now())
        self._changed()

    async def _email_unreachable(self, index: int, now: datetime) -> None:
        """The next channel: a person calls to get a working address, instead of e-mails nobody receives."""
        state, step = self.state, self._policy.steps[index]
        request = self._request(f"{step.id}-call", EMAIL_UNREACHABLE_TEMPLATE, now)
        request.assignee = step.assignee
        result = await self._execute(CREATE_PHONE_TASK, request, f"{step.id}-call")
        if result is not None and result.status in ("sent", "already_done"):
            state.step_done(
                self.now(),
                StepRecord(
                    step_id=step.id,
                    at=self.now(),
                    status="done",
                    detail=f"e-mail unreachable ({state.flags.email_invalid}); {result.detail}",
                    channel=result.channel,
                    provider_id=result.provider_id,
                ),
            )
        state.advance_past(index, self.now())

    async def _warn_limitation(self, event: NextEvent, now: datetime) -> None:
        state = self.state
        limitation = state.limitation()
        state.limitation_warned_for = limitation
        request = self._request(event.id, LIMITATION_WARNING_TEMPLATE, now)
        request.assignee = "legal"
        result = await self._execute(CREATE_PHONE_TASK, request, event.id)
        detail = result.detail if result is not None else "no task could be made"
        state.record(self.now(), "limitation_warning", f"the claim is time-barred on {limitation}: {detail}")

    async def _remind_installment(self, now: datetime) -> None:
        state, policy = self.state, self._policy
        plan = state.plan
        assert plan is not None
        k = plan.checked
        plan.reminded.append(k)
        if state.total_paid - plan.paid_before >= plan.due_through(k):
            state.record(now, "installment_reminder_skipped", f"installment {k + 1} already covered")
            return
        item = plan.installments[k]
        key = f"plan{plan.number}-installment{k + 1}-reminder"
        request = self._request(key, policy.payment_plan.reminder_template, now)
        request.requires_stage = "payment_plan"
        request.installment = InstallmentDue(
            number=k + 1, of=len(plan.installments), amount=item.amount, due_on=item.due_on
        )
        result = await self._execute(SEND_EMAIL, request, key)
        if result is not None:
            state.record(self.now(), "installment_reminder", f"{key}: {result.detail}", status=result.status)

    async def _execute(self, activity: str, request: StepRequest, label: str) -> StepResult | None:
        """Run a step's activity; a permanent failure is recorded and the case goes on."""
        try:
            return await run_step(activity, request, label)
        except ActivityError as err:
            cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err.cause or err)
            refused = isinstance(err.cause, ApplicationError) and err.cause.type == "DeliveryRefused"
            self._step_failed(request, label, cause, email_refused=activity == SEND_EMAIL and refused)
            return None

    def _step_failed(self, request: StepRequest, label: str, detail: str, *, email_refused: bool) -> None:
        """A step that failed for good is recorded; an address the provider refused is flagged, so that the
        next e-mail steps become calls (whether the case sent alone or through its customer's account)."""
        self.state.step_done(self.now(), StepRecord(step_id=label, at=self.now(), status="failed", detail=detail))
        if email_refused and workflow.patched("channel-fallback-v1"):
            self.state.flags.email_invalid = detail
            self.state.record(self.now(), "email_bounced", f"{request.customer.email} refused: {detail}")

    def _legal_request(self, step: Step, now: datetime) -> LegalStepRequest:
        return legal_request(self.state, workflow.info().workflow_id, step, now)

    def _request(self, step_id: str, template: str, now: datetime) -> StepRequest:
        return step_request(self.state, workflow.info().workflow_id, step_id, template, now)

    async def _first_policy(self, case: CaseInput, args: Sequence[Any]) -> Policy:
        """The policy a new case starts with; a case no policy takes, or a refused clock, is refused."""
        try:
            return await resolve_policy(case)
        except ActivityError as err:
            cause = err.cause
            refused = isinstance(cause, ApplicationError) and cause.type in ("NoPolicy", *REFUSED_AT_START)
            if refused and workflow.patched("start-contract-v1"):
                assert isinstance(cause, ApplicationError)
                await refuse_start(cause.message, args)
            raise

    async def _sync_ledger(self) -> None:
        """Write history entries the SQL ledger has not seen, with the case's current state."""
        state = self.state
        if not workflow.patched("ledger-v1") or state.ledger_synced >= state.history_end():
            return
        upto = state.history_end()
        update = ledger_update(state, workflow.info().workflow_id, self.now(), upto)
        await record_case(update)
        state.ledger_synced = upto

    # ---- time ----------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Case time: real time, or the compressed time of a demo case."""
        return self.state.clock.case_time(workflow.now())

    async def _sleep_until(self, event: NextEvent) -> bool:
        """True when the event's time came; False when the case changed first (plans are then redone)."""
        remaining = event.at - self.now()
        if remaining <= timedelta(0):
            return True
        woken = self._woken()
        try:
            await workflow.wait_condition(
                woken,
                timeout=self.state.clock.real_delay(remaining),
                timeout_summary=f"until {event.kind} {event.id}",
            )
        except TimeoutError:
            return True
        return False

    async def _wait_for_change(self) -> None:
        await workflow.wait_condition(self._woken())

    def _woken(self) -> Callable[[], bool]:
        """What ends a wait: the case changed, its history grew long (say under a flood of refused signals,
        so that it continues as new before Temporal's limits), or its ledger has not seen every entry."""
        version, long_history_wakes = self._version, workflow.patched("wake-on-long-history-v1")
        # what changed while the loop was busy (an update during the ledger write) is written before any wait
        # (only where the ledger is written at all: a case older than ledger-v1 never syncs, and must not spin)
        ledger_wakes = workflow.patched("ledger-v1") and workflow.patched("sync-before-sleep-v1")
        state = self.state
        return lambda: (
            self._version != version
            or (long_history_wakes and self._history_is_long(self._options))
            or (ledger_wakes and state.ledger_synced < state.history_end())
        )

    def _changed(self) -> None:
        self._version += 1

    def _history_is_long(self, options: RunOptions) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= options.continue_as_new_after_events
        )

    # ---- ops actions -----------------------------------------------------------------------------------

    async def _ready(self) -> None:
        await workflow.wait_condition(lambda: self.state.policy is not None)

    def _gate(self) -> None:
        if self.state.closed:
            raise Rejected(f"case is closed ({self.state.outcome})")

    def _check(self, action: Action) -> None:
        if self.state.policy is not None:  # a validator may run before the policy is chosen
            self.state.check(action, self.now())

    async def _take(self, action: Action, *, answer: bool) -> CaseStatus | None:
        self.state.apply(action, self.now())
        self._changed()
        return self._status() if answer else None

    def _refuse(self, name: str, reason: str, payload: str) -> None:
        self.state.refuse(self.now(), name, reason, payload)

    @workflow.update(name="reapply_policy")
    async def reapply_policy(self, *args: Any) -> CaseStatus:
        """An operator moves the running case to another policy, or to the newest version of its rules."""
        try:
            action = parse_payload(ReapplyPolicy, args)
        except Rejected as err:
            raise ApplicationError(str(err), type="Rejected", non_retryable=True) from None
        await workflow.wait_condition(lambda: self.state.policy is not None)
        state = self.state
        wanted = state.case.model_copy(update={"policy": action.policy})
        try:
            policy = await resolve_policy(wanted)
        except ActivityError as err:
            cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
            raise ApplicationError(f"policy not re-applied: {cause}", type="Rejected", non_retryable=True) from None
        state.reapply(policy, self.now(), action.by)
        self._changed()
        return self._status()

    @reapply_policy.validator
    def _validate_reapply(self, *args: Any) -> None:
        self._check_started()
        parse_payload(ReapplyPolicy, args)
        if self.state.closed:
            raise Rejected("case is closed")

    @workflow.query(name="status")
    def status(self, *args: Any) -> CaseStatus:
        """The case as seen at `at` (real time, given by the caller), else at the case's last activity.

        Inside a query the workflow clock stands still at the last activation, so callers that want
        "now" for a sleeping case (days late, next step) pass their own clock as the one argument.
        """
        self._check_started()
        if len(args) > 1:
            raise Rejected(f"status takes at most one argument, the caller's time; got {len(args)}")
        at = parse_payload(SeenAt, [{"at": args[0] if args else None}]).at
        seen_at = self.state.clock.case_time(at) if at is not None and at > workflow.now() else None
        return self._status(seen_at)

    # ---- reading -------------------------------------------------------------------------------------

    @property
    def _policy(self) -> Policy:
        assert self.state.policy is not None
        return self.state.policy

    def _status(self, seen_at: datetime | None = None) -> CaseStatus:
        now = seen_at or self.now()
        state = self.state
        upcoming = None if state.closed or state.policy is None else planning.next_event(state, now, commit=False)
        return state.status(now, upcoming, planning.waiting_for(state, now))

    def _show_details(self) -> None:
        """What the Temporal UI shows and filters on for the case right now."""
        state, now = self.state, self.now()
        workflow.set_current_details(state.details(now, self._next, planning.waiting_for(state, now)))
        if workflow.patched("search-attributes-v1"):
            self._shown = upsert_changed_attributes(state, self._next, self._shown, now)
