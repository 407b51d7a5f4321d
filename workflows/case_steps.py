"""What a case does when its next event comes: run a policy step (through an activity or the customer's
account) or a side step (the call that replaces an unreachable e-mail, the limitation warning, an installment
reminder), and record the outcome in the case. `relance.domain.planning` decided the event; this acts on it."""

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.account_link import AccountLink
from workflows.case_activities import ACTIVITY_FOR_ACTION, failure_detail, failure_of, run_here_first, run_step
from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from relance.domain import arrangements, case_view, holds, payments, planning
    from relance.domain.account import speaks_alone
    from relance.domain.activity_contract import (
        CONTACTED_TODAY,
        CREATE_PHONE_TASK,
        CREATE_PHONE_TASK_ALONE,
        MISSING_RATE,
        NOT_ALONE,
        REPRESENT_DIRECT_DEBIT,
        SEND_EMAIL,
        SEND_EMAIL_ALONE,
        InstallmentDue,
        StepRequest,
        StepResult,
        debit_request,
        legal_request,
        step_request,
    )
    from relance.domain.case import CaseState, DayWait, DayWaitKind, NextEvent, Outcome
    from relance.domain.case_legal import enter_legal_stage
    from relance.domain.case_records import StepRecord
    from relance.domain.policy import LEGAL_ACTIONS, Policy, StepAction

EMAIL_UNREACHABLE_TEMPLATE = "email_unreachable"  # the phone task that replaces an e-mail that cannot arrive
LIMITATION_WARNING_TEMPLATE = "limitation_warning"  # the task that tells a person to interrupt limitation


# A step's result that makes it wait for the next day rather than fail: what the wait is for.
WAITS_A_DAY: dict[str, DayWaitKind] = {MISSING_RATE: "rate", CONTACTED_TODAY: "contact_day"}


class CaseSteps:
    """Runs a case's due events; `now` is the case's clock (real, or a demo's compressed time)."""

    def __init__(
        self,
        state: CaseState,
        account: AccountLink,
        now: Callable[[], datetime],
        show: Callable[[], None] = lambda: None,
    ) -> None:
        """`show` upserts what the UI was not yet shown before a step leaves the workflow task (v20)."""
        self.state, self.account, self.now, self.show = state, account, now, show

    async def fire(self, event: NextEvent) -> None:
        state, now = self.state, max(self.now(), event.at)
        match event.kind:
            case "step":
                assert event.index is not None
                await self.run_step(event.index, now)
            case "promise_check":
                arrangements.promise_due(state, now)
            case "offer_check":
                arrangements.offer_due(state, now)
            case "installment_check":
                arrangements.installment_due(state, now)
            case "installment_reminder":
                await self._remind_installment(now)
            case "resume":
                holds.lift_expired_pause(state, now)
            case "limitation_warning":
                await self._warn_limitation(event, now)
            case "notice":
                await self.send_notices()
            case "represent_debit":
                await self._represent_debit(event, now)
            case "represent_settle":
                days = (state.today(now) - state.representation.on).days if state.representation else 0
                payments.representation_over(
                    state, now, f"no payment {days} days after the debit presented again: chasing resumes"
                )
            case "close":
                state.close(
                    now,
                    Outcome.policy_completed,
                    f"policy completed; {state.balance} {state.case.currency} still unpaid",
                )

    async def run_step(self, index: int, now: datetime) -> None:
        """A policy step at its slot `now`: skipped when something blocks it, else sent and recorded."""
        state, policy = self.state, self._policy
        step = policy.steps[index]
        before = (policy, state.cursor)  # what an action arriving during the send may change
        waited, state.day_wait = state.day_wait, None  # set again below if the step must wait another day
        blocker = planning.step_blocker(state, index, self.now())
        if blocker is not None:
            state.step_done(now, StepRecord(step_id=step.id, at=now, status="skipped", detail=blocker))
            state.advance_past(index, now)  # nothing was awaited: nothing can have moved the case
            return
        if step.action in LEGAL_ACTIONS:
            request: StepRequest = legal_request(state, workflow.info().workflow_id, step, now)
        else:
            if step.action is StepAction.email and state.flags.email_invalid:
                return await self._email_unreachable(index, now, before)
            request = self._request(step.id, step.template, now)
        request.assignee = step.assignee
        via_account = step.action in (StepAction.email, StepAction.phone_task) and self.account.groups_messages()
        if via_account and self._may_speak_alone(step.action):
            result = await self._alone_or_through_account(step.action, request, step.id)
        elif via_account:
            result = await self._through_account(step.action, request)
        else:
            result = await self._execute(ACTIVITY_FOR_ACTION[step.action], request, step.id)
        if result is None:
            if step.action is StepAction.email and state.flags.email_invalid:
                return await self._email_unreachable(index, now, before)
            self._advance(index, now, before)
            return
        if result.status in ("deferred", "skipped_paused"):
            if result.error_type in WAITS_A_DAY:  # planning tries it again at the next day's first slot
                return self._wait_a_day(WAITS_A_DAY[result.error_type], step.id, result.detail, waited)
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
            enter_legal_stage(state, step, self.now(), result.document, result.provider_id, result.route, result.court)
        self._advance(index, self.now(), before)

    async def _through_account(self, action: StepAction, request: StepRequest) -> StepResult | None:
        self.show()
        result = await self.account.send(action, request)
        if result.status == "failed":
            refused = action is StepAction.email and result.error_type == "DeliveryRefused"
            self._step_failed(request, request.step_id, result.detail, email_refused=refused)
            return None
        return result

    async def _email_unreachable(self, index: int, now: datetime, before: tuple[Policy, int]) -> None:
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
        self._advance(index, self.now(), before)

    def _advance(self, index: int, now: datetime, before: tuple[Policy, int]) -> None:
        """Past the step just sent, unless an action that arrived during the send moved the case on (a returned
        payment escalating it, a policy re-applied): that action's cursor stands."""
        state = self.state
        policy, cursor = before
        moved = state.policy is not policy or state.cursor != cursor
        if moved and patched("keep-moved-cursor-v1"):
            sent = policy.steps[index].id
            state.record(now, "moved_during_step", f"{sent} went out while the case moved on: its new course stands")
            return
        state.advance_past(index, now)

    async def send_notices(self) -> None:
        """Tell the debtor where the case stands (a dispute's outcome), once per notice and case."""
        state = self.state
        while state.notices:
            notice, now = state.notices[0], self.now()
            request = self._request(notice.key, notice.template, now)
            request.requires_stage = "any" if notice.any_stage else "informs"
            request.credited_now = notice.credited or None
            request.pay_by = planning.notice_pay_by(state, now)
            if notice.offer is not None:
                request.offer_amount, request.pay_by = notice.offer.amount, notice.offer.pay_by
                request.waived = [w.value for w in notice.offer.waive]
            if notice.assignee is not None:
                request.assignee = notice.assignee
            activity = SEND_EMAIL if notice.channel == "email" else CREATE_PHONE_TASK
            result = await self._execute(activity, request, notice.key)
            state.notices.pop(0)
            if result is not None:
                state.record(self.now(), "debtor_informed", f"{notice.key}: {result.detail}", status=result.status)

    async def _warn_limitation(self, event: NextEvent, now: datetime) -> None:
        """A person is told to interrupt limitation before the claim is time-barred."""
        state = self.state
        limitation = state.limitation()
        state.limitation_warned_for = limitation
        request = self._request(event.id, LIMITATION_WARNING_TEMPLATE, now)
        request.assignee = "legal"
        result = await self._execute(CREATE_PHONE_TASK, request, event.id)
        detail = result.detail if result is not None else "no task could be made"
        state.record(self.now(), "limitation_warning", f"the claim is time-barred on {limitation}: {detail}")

    async def _represent_debit(self, event: NextEvent, now: datetime) -> None:
        """A returned direct debit presented again: a pain.008 for the bank, then the chase waits for it."""
        state = self.state
        request = debit_request(state, workflow.info().workflow_id, event.id, now)
        result = await self._execute(REPRESENT_DIRECT_DEBIT, request, event.id)
        if result is None:
            payments.representation_over(state, self.now(), "the debit could not be presented again: chasing resumes")
        elif result.status in ("sent", "already_done", "in_doubt"):  # in doubt: never written twice blindly
            payments.debit_represented(state, self.now(), request.end_to_end_id, f"{event.id}: {result.detail}")
        else:  # settled, paused: never tried again in a loop; the chase (or the payment) takes over
            payments.representation_over(state, self.now(), f"not presented again: {result.detail}")

    async def _remind_installment(self, now: datetime) -> None:
        """The plan's next installment is near: the debtor is reminded, unless it is already covered."""
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

    @staticmethod
    def _may_speak_alone(action: StepAction) -> bool:
        """E-mails since v17; call tasks since v19 (before, the account made every call task)."""
        if action is StepAction.email:
            return patched("lone-voice-v1")
        return action is StepAction.phone_task and patched("lone-call-v1")

    async def _alone_or_through_account(
        self, action: StepAction, request: StepRequest, label: str
    ) -> StepResult | None:
        """A lone invoice speaks for itself (no round trip to its customer's account); when the customer has
        other open cases (when it opened, or now), its account speaks for them all (grouped, one voice). A case
        opened within the hour leaves its message to the account too (`speaks_alone`), unless its import said it
        is its customer's only invoice."""
        state = self.state
        opened, in_batch = state.opened_at or state.history[0].at, state.case.customer_invoices_in_batch
        batch_known = in_batch is not None and patched("batch-alone-v1")  # asked only of a case that has it
        if not speaks_alone(state.others_open_at_start, opened, self.now(), in_batch, batch_known=batch_known):
            return await self._through_account(action, request)
        alone = SEND_EMAIL_ALONE if action is StepAction.email else CREATE_PHONE_TASK_ALONE
        if patched("send-here-v1"):
            result = await self._here_or_through_server(alone, request, label)
        else:
            result = await self._execute(alone, request, label)
        if result is not None and result.error_type == NOT_ALONE:
            return await self._through_account(action, request)
        return result

    async def _here_or_through_server(self, activity: str, request: StepRequest, label: str) -> StepResult | None:
        """A lone case's message in its own workflow task (v20: a local activity, no round trip through the
        server), checked against the case as it reads itself now. One attempt: a failure worth retrying (the
        provider away, a timeout) sends the step through the server as before, retried and checked by a query at
        each attempt; the step's claim keeps it at most once across both."""
        here = request.model_copy(update={"seen": case_view.seen(self.state, self.now())})
        summary = f"{label} for {request.invoice_id}"
        try:
            result: StepResult = await run_here_first(
                activity, here, request, result_type=StepResult, summary=summary, before_server=self.show
            )
            return result
        except (ActivityError, ApplicationError) as err:
            self._failed_for_good(activity, request, label, err)
            return None

    async def _execute(self, activity: str, request: StepRequest, label: str) -> StepResult | None:
        """Run a step's activity; a permanent failure is recorded and the case goes on."""
        self.show()
        try:
            return await run_step(activity, request, label)
        except ActivityError as err:
            self._failed_for_good(activity, request, label, err)
            return None

    def _failed_for_good(
        self, activity: str, request: StepRequest, label: str, err: ActivityError | ApplicationError
    ) -> None:
        cause = failure_of(err)
        refused = cause is not None and cause.type == "DeliveryRefused"
        email = activity in (SEND_EMAIL, SEND_EMAIL_ALONE)
        self._step_failed(request, label, failure_detail(err), email_refused=email and refused)

    def _wait_a_day(self, kind: DayWaitKind, step_id: str, reason: str, waited: DayWait | None) -> None:
        """A step that cannot run today: a legal step needs a rate the table lacks (a person has a task to add
        it), or a message's customer already had one today. The case does not fail the step but tries it again
        the next day (recorded once, not once a day)."""
        state, now = self.state, self.now()
        same = waited if waited is not None and (waited.step_id, waited.kind) == (step_id, kind) else None
        since = same.since if same else now
        state.day_wait = DayWait(step_id=step_id, reason=reason, since=since, tried_at=now, kind=kind)
        if same is None or same.reason != reason:
            event, again = (
                ("waiting_for_rate", "each day") if kind == "rate" else ("waiting_for_contact_day", "the next day")
            )
            state.record(now, event, f"{step_id}: {reason}; tried again {again}", step_id=step_id)

    def _step_failed(self, request: StepRequest, label: str, detail: str, *, email_refused: bool) -> None:
        """A step that failed for good is recorded; an address the provider refused is flagged, so that the
        next e-mail steps become calls (whether the case sent alone or through its customer's account)."""
        state, now = self.state, self.now()
        state.step_done(now, StepRecord(step_id=label, at=now, status="failed", detail=detail))
        if email_refused:
            state.flags.email_invalid = detail
            state.record(now, "email_bounced", f"{request.customer.email} refused: {detail}")

    def _request(self, step_id: str, template: str, now: datetime) -> StepRequest:
        return step_request(self.state, workflow.info().workflow_id, step_id, template, now)

    @property
    def _policy(self) -> Policy:
        assert self.state.policy is not None
        return self.state.policy
