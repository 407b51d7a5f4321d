"""CustomerAccount: one voice per customer (workflow id `customer-<customer_id>`, started on demand).

Its invoice cases keep their own timelines and hand it their message steps. It gathers what comes due
together, sends one message (or one call task) listing every invoice still due, and tells each case
what became of its step. It also holds, excludes or releases every open case of the customer, and
spreads a payment that names no invoice over the oldest balances first.
"""

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from workflows.case_activities import failure_detail, failure_of, through_server
from workflows.ops_handlers import TakesOpsActions, ops_actions, read_signal
from workflows.patches import patched
from workflows.retries import LEDGER_RETRY

with workflow.unsafe.imports_passed_through():
    from relance.domain.account import (
        ACCOUNT_ACTIONS,
        GATHER,
        GATHER_FLOOR,
        GATHER_IMPORT,
        READ_CASES,
        READ_OPEN_CASES,
        SEND_CUSTOMER_MESSAGES,
        SET_CUSTOMER_HOLD,
        TELL_CASES,
        AccountHold,
        AccountState,
        Action,
        Allocation,
        CaseClosed,
        CaseOpened,
        CaseUnreachable,
        CaseView,
        CustomerBatch,
        CustomerHoldNotice,
        CustomerReleaseNotice,
        ExcludeCustomer,
        HoldChange,
        HoldCustomer,
        IncludeCustomer,
        MessageDue,
        MessageOutcome,
        OutcomeToTell,
        ReleaseCustomer,
        UnallocatedPayment,
        allocate_oldest_first,
        check_account_action,
        contacted_today,
        every_case_in,
        held_for_next_day,
        import_gathered,
        note_sent,
        read_account_start,
    )
    from relance.domain.actions import PaymentReceived
    from relance.domain.activity_contract import StepResult
    from relance.domain.case import Rejected
    from relance.domain.limits import bounded

M = TypeVar("M", bound=BaseModel)


@workflow.defn(name="CustomerAccount")
@ops_actions(ACCOUNT_ACTIONS)
class CustomerAccount(TakesOpsActions):
    """Started by its customer's first case with `[customer_id]`; carries its state across continue-as-new."""

    noun = "account"
    known_signals = known_updates = tuple(a.name for a in ACCOUNT_ACTIONS)

    @workflow.init
    def __init__(self, *args: Any) -> None:
        info = workflow.info()
        self._refusal: str | None = None
        self._open_invoices: list[str] = []  # the open cases as last read, for an action's answer
        try:
            self.state = read_account_start(
                args, workflow_id=info.workflow_id, continued=info.continued_run_id is not None
            )
        except Rejected as err:
            self._refusal = str(err)

    @workflow.run
    async def run(self, *args: Any) -> None:
        if self._refusal is not None:
            raise ApplicationError(f"account refused: {self._refusal}", type="InvalidAccount", non_retryable=True)
        state = self.state
        customer_id = state.customer_id
        while True:
            self._show_details()
            await workflow.wait_condition(
                lambda: bool(state.pending) or self._hold_expired() or self._history_is_long(),
                timeout=self._until_hold_ends(),
            )
            if self._hold_expired():
                await self._lift_hold("hold ended as planned", None)
                continue
            if state.pending:
                await self._send_batch()
                continue
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(args=[customer_id, state])

    # ---- grouped messages -------------------------------------------------------------------------------

    async def _send_batch(self) -> None:
        """Gather what else comes due at the same moment, and the rest of an import's invoices of the customer
        (GATHER_IMPORT at most: they open minutes apart), then one activity sends for all of it."""
        state = self.state
        fastest = max(item.speed for item in state.pending)
        here, gather = patched("account-tells-v1"), max(GATHER / fastest, GATHER_FLOOR)
        if not here:
            await workflow.sleep(gather)
        elif not every_case_in(state.pending):  # since account-tells-v1: no longer than until no other case can join
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: every_case_in(state.pending), timeout=gather, timeout_summary="steps due together"
                )
        if not import_gathered(state.pending) and patched("gather-import-v1"):
            with contextlib.suppress(TimeoutError):  # what has not come by then goes in a later message
                await workflow.wait_condition(
                    lambda: import_gathered(state.pending),
                    timeout=max(GATHER_IMPORT / fastest, GATHER_FLOOR),
                    timeout_summary="the rest of the import's invoices",
                )
        items, held = held_for_next_day(state, state.pending)
        state.pending = []
        waits = contacted_today(state.customer_id, state.emailed_on)
        # the customer already had today's e-mail: these go on their next contact day
        await self._tell_each([(i, waits) for i in held], here)
        if not items:
            return
        state.batches += 1
        batch = CustomerBatch(customer_id=state.customer_id, number=state.batches, items=items)
        results = await self._send(batch)
        note_sent(state, items, results)
        sent = sum(1 for r in results if r.status in ("sent", "already_done"))
        state.record(self._now(), "batch", f"batch {batch.number}: {sent} of {len(items)} step(s) sent")
        await self._tell_each(list(zip(items, results, strict=True)), here, answer=True)
        self._forget_old_answers()

    async def _send(self, batch: CustomerBatch) -> list[StepResult]:
        """One activity sends for the whole batch, through the server: its last check queries each case, which a
        local activity must not do while it holds the account's workflow task (the queries wait for the cases'
        own tasks: measured, 350 of 800 accounts' tasks then took over 5 s in the portfolio burst)."""
        summary = f"{len(batch.items)} message step(s) for customer {batch.customer_id}"
        try:
            results: list[StepResult] = await through_server(
                SEND_CUSTOMER_MESSAGES, batch, result_type=list[StepResult], summary=summary
            )
            return results
        except ActivityError as err:
            return self._failed(batch, err)

    @staticmethod
    def _failed(batch: CustomerBatch, err: ActivityError | ApplicationError) -> list[StepResult]:
        """The cases record the failure of their step, as if they had sent alone."""
        cause = failure_of(err)
        kind = cause.type if cause is not None else None
        return [StepResult(status="failed", detail=failure_detail(err), error_type=kind) for _ in batch.items]

    async def _tell_each(
        self, outcomes: list[tuple[MessageDue, StepResult]], together: bool, *, answer: bool = False
    ) -> None:
        """Each case what became of its step (kept as the step's answer when `answer`, for a case that asks
        again): since account-tells-v1 all at once, from a local activity in the account's task (its history keeps
        one marker), not by a signal and a workflow task each."""
        tells: list[OutcomeToTell] = []
        for item, result in outcomes:
            if answer:
                self.state.answered[item.request.idempotency_key] = result
            outcome = MessageOutcome(step_id=item.request.step_id, result=result)
            if not together:  # older accounts: each answer kept right before its case is told, in turn
                await self._tell(item.case_id, "message_outcome", outcome)
            else:
                tells.append(OutcomeToTell(case_id=item.case_id, outcome=outcome))
        if not tells:
            return
        unreachable: list[CaseUnreachable] = await workflow.execute_local_activity(
            TELL_CASES,
            tells,
            result_type=list[CaseUnreachable],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=LEDGER_RETRY,
            summary=f"tell {len(tells)} case(s) what became of their step",
        )
        for case in unreachable:
            self._unreachable(case.case_id, "message_outcome", case.detail)

    def _forget_old_answers(self) -> None:
        """Answers are kept for cases that ask again; the oldest go once there are many (the account lives long)."""
        while len(self.state.answered) > 500:
            self.state.answered.pop(next(iter(self.state.answered)))

    async def _tell(self, case_id: str, signal: str, payload: BaseModel) -> None:
        """Signal a case; one that has closed meanwhile no longer listens, and no longer needs to."""
        try:
            await workflow.get_external_workflow_handle(case_id).signal(signal, payload)
        except FailureError as err:
            self._unreachable(case_id, signal, str(err))

    def _unreachable(self, case_id: str, signal: str, detail: str) -> None:
        self.state.cases.pop(case_id, None)
        self.state.record(self._now(), "case_unreachable", f"{case_id} did not take {signal}: {detail}")

    # ---- what cases report ---------------------------------------------------------------------------

    def _read(self, model: type[M], name: str, args: Sequence[Any]) -> M | None:
        """A signal's payload, or None once its refusal is recorded (a refused account takes nothing)."""
        if self._refusal is not None:
            return None
        return read_signal(model, name, args, self._refuse)

    def _refuse(self, name: str, reason: str, payload: str) -> None:
        self.state.record(self._now(), "rejected", f"{name} rejected: {bounded(reason, 500)}", payload=payload)

    @workflow.signal(name="case_opened")
    async def case_opened(self, *args: Any) -> None:
        opened = self._read(CaseOpened, "case_opened", args)
        if opened is None:
            return
        self.state.cases[opened.case_id] = opened
        if self.state.hold is not None:  # a case that starts during a hold is held too
            await self._tell(opened.case_id, "customer_hold", self._hold_payload())

    @workflow.signal(name="case_closed")
    def case_closed(self, *args: Any) -> None:
        closed = self._read(CaseClosed, "case_closed", args)
        if closed is not None:
            self.state.cases.pop(closed.case_id, None)

    @workflow.signal(name="message_due")
    async def message_due(self, *args: Any) -> None:
        due = self._read(MessageDue, "message_due", args)
        if due is None:
            return
        key = due.request.idempotency_key
        if key in self.state.answered:  # a case asking again after a restart gets the same answer
            outcome = MessageOutcome(step_id=due.request.step_id, result=self.state.answered[key])
            await self._tell(due.case_id, "message_outcome", outcome)
            return
        if all(p.request.idempotency_key != key for p in self.state.pending):
            self.state.pending.append(due)

    # ---- customer-level actions (updates and signals: see workflows/ops_handlers.py) -----------------

    def _check(self, action: Action) -> None:
        check_account_action(self.state, action, self._now().date())

    async def _take(self, action: Action, *, answer: bool) -> dict[str, Any]:
        result = await self._apply(action)
        if answer:
            self._show_details()
        return result

    async def _apply(self, action: Action) -> dict[str, Any]:
        state, now = self.state, self._now()
        match action:
            case HoldCustomer() | ExcludeCustomer():
                kind = "hold" if isinstance(action, HoldCustomer) else "exclude"
                until = action.until if isinstance(action, HoldCustomer) else None
                state.hold = AccountHold(kind=kind, reason=action.reason, since=now, until=until, by=action.by)
                state.record(now, kind, f"{kind}: {action.reason}" + (f" until {until}" if until else ""), by=action.by)
                for case_id in await self._cases_to_tell(self._hold_payload()):
                    await self._tell(case_id, "customer_hold", self._hold_payload())
            case ReleaseCustomer() | IncludeCustomer():
                await self._lift_hold(f"{action.name} by an operator", action.by)
            case UnallocatedPayment():
                return {"allocations": [a.model_dump(mode="json") for a in await self._allocate(action)]}
        return self._summary()

    async def _allocate(self, payment: UnallocatedPayment) -> list[Allocation]:
        state = self.state
        if patched("ledger-cases-v1"):  # the open cases as the ledger lists them
            read: tuple[str, Any, str] = (READ_OPEN_CASES, state.customer_id, f"customer {state.customer_id}'s")
        else:  # the cases that reported to the account
            read = (READ_CASES, list(state.cases), f"{len(state.cases)}")
        activity, arg, whose = read
        views = await workflow.execute_activity(
            activity,
            arg,
            result_type=list[CaseView],
            start_to_close_timeout=timedelta(seconds=30),
            summary=f"balances of {whose} open case(s)",
        )
        if not views:  # (before ledger-cases-v1, the validator refused an account without cases)
            raise ApplicationError("the customer has no open case to allocate the payment to", type="Rejected")
        state.payments.append(payment.reference)
        allocations, left = allocate_oldest_first(payment.amount, views)
        for allocation in allocations:
            share = PaymentReceived(
                amount=allocation.amount,
                paid_on=payment.paid_on,
                reference=f"{payment.reference}/{allocation.invoice_id}",
                by=payment.by or "customer account",
            )
            await self._tell(allocation.case_id, PaymentReceived.name, share)
        state.credit += left
        spread = ", ".join(f"{a.invoice_id} {a.amount}" for a in allocations) or "nothing"
        extra = f"; {left} kept as a credit" if left else ""
        state.record(
            self._now(), "unallocated_payment", f"payment {payment.reference} of {payment.amount}: {spread}{extra}"
        )
        return allocations

    async def _lift_hold(self, why: str, by: str | None) -> None:
        state = self.state
        state.hold = None
        state.record(self._now(), "released", why, by=by)
        for case_id in await self._cases_to_tell(None):
            await self._tell(case_id, "customer_release", CustomerReleaseNotice(by=by or "customer account"))

    async def _cases_to_tell(self, hold: CustomerHoldNotice | None) -> list[str]:
        """The cases a hold (or its end, None) reaches. Since ledger-cases-v1 the hold is recorded in the ledger
        first, then the customer's open cases are read there: cases no longer report to the account when they
        open (generation v18), and one opening meanwhile reads the hold itself (relance/ledger/customer_days)."""
        if not patched("ledger-cases-v1"):
            self._open_invoices = [c.invoice_id for c in self.state.cases.values()]
            return list(self.state.cases)
        cases = await workflow.execute_activity(
            SET_CUSTOMER_HOLD,
            HoldChange(customer_id=self.state.customer_id, hold=hold),
            result_type=list[CaseOpened],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=LEDGER_RETRY,
            summary=f"{'record' if hold else 'end'} the hold of customer {self.state.customer_id}; its open cases",
        )
        self._open_invoices = [c.invoice_id for c in cases]
        return [c.case_id for c in cases]

    def _hold_payload(self) -> CustomerHoldNotice:
        hold = self.state.hold
        assert hold is not None
        return hold.notice()

    def _hold_expired(self) -> bool:
        hold = self.state.hold
        return hold is not None and hold.until is not None and self._now().date() >= hold.until

    def _until_hold_ends(self) -> timedelta | None:
        hold = self.state.hold
        if hold is None or hold.until is None:
            return None
        ends = datetime.combine(hold.until, datetime.min.time(), tzinfo=self._now().tzinfo)
        return max(ends - self._now(), timedelta(seconds=1))

    # ---- reading -------------------------------------------------------------------------------------

    @workflow.query(name="account")
    def account(self, *args: Any) -> AccountState:
        if self._refusal is not None:
            raise Rejected(f"the account was refused at start: {self._refusal}")
        if args:
            raise Rejected(f"the account query takes no argument, got {len(args)}")
        return self.state

    def _summary(self) -> dict[str, Any]:
        hold = self.state.hold
        return {
            "customer_id": self.state.customer_id,
            "open_cases": sorted(self._open_invoices),
            "hold": hold.model_dump(mode="json") if hold else None,
            "credit": str(self.state.credit),
        }

    def _show_details(self) -> None:
        state, hold = self.state, self.state.hold
        standing = f"{hold.kind}: {hold.reason}" if hold else "chasing normally"
        # since v18 cases do not report to their account: their list is the ledger's, not this workflow's
        workflow.set_current_details(
            f"**Standing:** {standing}\n\n**Open invoices:** `relance customer {state.customer_id}`"
            f"\n\n**Grouped sends:** {state.batches}"
        )

    def _now(self) -> datetime:
        return workflow.now()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() > self.state.continue_as_new_after
        )
