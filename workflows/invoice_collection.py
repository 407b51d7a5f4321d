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
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, is_cancelled_exception

from workflows import case_metrics
from workflows.account_link import AccountLink
from workflows.case_activities import (
    failure_of,
    open_case,
    open_case_counted,
    open_case_quiet,
    open_new_case,
    read_closed_case,
    record_case,
    refuse_start,
    resolve_policy,
)
from workflows.case_steps import CaseSteps
from workflows.ops_handlers import (
    TakesOpsActions,
    ops_actions,
    parse_payload,
    read_signal,
)
from workflows.patches import patched, pin_generation
from workflows.search_attributes import upsert_changed_attributes

with workflow.unsafe.imports_passed_through():
    from relance.domain import case_view, holds, planning
    from relance.domain.account import (
        CaseOpening,
        CaseToOpen,
        CustomerHoldNotice,
        CustomerReleaseNotice,
        MessageOutcome,
        OpeningResult,
    )
    from relance.domain.actions import Action, AgencyUpdate, JudgmentPaid, ReapplyPolicy
    from relance.domain.activity_contract import (
        REFUSED_AT_START,
        ClosedRun,
        ledger_update,
    )
    from relance.domain.case import CaseState, NextEvent, Outcome, Rejected
    from relance.domain.case_start import RunOptions, StartRefused, read_start
    from relance.domain.case_view import SEEN_QUERY, CaseSeen, CaseStatus, SeenAt
    from relance.domain.clock import CaseClock
    from relance.domain.errors import CaseClosed, LetterNeverSent
    from relance.domain.invoice import CaseInput
    from relance.domain.limits import excerpt
    from relance.domain.policy import Policy
    from relance.domain.reopening import reopened
    from relance.domain.rules import OPS_ACTIONS

M = TypeVar("M", bound=BaseModel)


@workflow.defn(name="InvoiceCollection")
@ops_actions(OPS_ACTIONS)
class InvoiceCollection(TakesOpsActions):
    """Started with one argument, the case JSON (see relance.domain.case_start for the contract)."""

    noun = "case"
    known_signals = known_updates = tuple(a.name for a in OPS_ACTIONS)

    @workflow.init
    def __init__(self, *args: Any) -> None:
        pin_generation(self)  # first, before any patch is asked (see workflows/patches.py)
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
            self._account = AccountLink(self.state)
            self._steps = CaseSteps(self.state, self._account, self.now, self._show_unshown)
        self._version = 0
        self._opening = False  # the opening local activity is running (v19): the account's word waits for it
        self._heard_while_opening: list[CustomerHoldNotice | CustomerReleaseNotice] = []
        self._next: NextEvent | None = None
        self._shown: list[Any] = []
        self._unshown = False  # the loop left the search attributes for the end of the workflow task (v20)

    # ---- the collection process ------------------------------------------------------------------

    @workflow.run
    async def run(self, *args: Any) -> CaseStatus:
        if self._refusal is not None:
            await refuse_start(self._refusal, args)
        options = self._options
        state = self.state
        case = state.case
        if options.reopen is not None and state.policy is None:
            state = await self._reopen(args)
        try:
            if state.policy is None and patched("open-with-policy-v1"):
                await self._open_new(args)
            elif state.policy is None:
                state.take_policy(await self._first_policy(case, args), self.now())
                self._changed()
                if patched("open-in-one-v1"):
                    await self._open()
                else:
                    await self._account.opened()
            while True:
                await self._sync_ledger()
                if state.notices and not patched("notices-planned-v1"):  # older generations: outside the plan
                    slot = planning.notice_slot(state, self.now())
                    if await self._sleep_until(NextEvent(kind="notice", id=state.notices[0].key, at=slot)):
                        await self._steps.send_notices()
                    continue
                if state.closed and not state.notices:  # re-checked after every await: an update may close it
                    break
                if self._history_is_long(options):
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    state.trim_history(options.keep_history)
                    carried = options.model_copy(update={"carried": state, "reopen": None})
                    workflow.continue_as_new(args=[carried])
                self._next = planning.next_event(state, self.now(), commit=True)
                self._show_details(upsert=not self._due_now())
                if self._next is None:
                    await self._wait_for_change()
                elif await self._sleep_until(self._next):
                    await self._steps.fire(self._next)
                    self._changed()
            self._next = None
            self._show_details()
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not patched("quiet-open-v1"):  # since v18 the account reads open cases from the ledger
                await self._account.closed()
            await self._sync_ledger()
            return self._status()
        except (asyncio.CancelledError, CancelledError, ActivityError) as err:
            # a cancellation reaches us as CancelledError, or wrapped in the activity it interrupted (a local
            # activity's, Temporal's CancelledError, unwrapped)
            if not is_cancelled_exception(err):
                raise
            if not state.closed:
                state.close(self.now(), Outcome.cancelled, "case cancelled in Temporal")
            self._next = None  # cancellation was delivered: activities run again
            self._show_details()
            await self._sync_ledger()
            raise

    async def _reopen(self, args: Sequence[Any]) -> CaseState:
        """Go on from the closed run this run reopens, read from Temporal; refused, the run fails at once."""
        reopen = self._options.reopen
        assert reopen is not None
        info = workflow.info()
        try:
            closed = await read_closed_case(ClosedRun(workflow_id=info.workflow_id, run_id=reopen.previous_run_id))
            self.state = reopened(closed, reopen, closed.clock.case_time(workflow.now()))
        except ActivityError as err:
            cause = failure_of(err)
            await refuse_start(cause.message if cause is not None else str(err), args)
        except Rejected as err:
            await refuse_start(str(err), args)
        self._account = AccountLink(self.state)
        self._steps = CaseSteps(self.state, self._account, self.now, self._show_unshown)
        self._changed()
        if patched("quiet-open-v1"):
            await self._open()  # the ledger learns it is open again, and the case whether its customer is held
        else:
            await self._account.opened()
        return self.state

    @workflow.query(name="case_state")
    def case_state(self) -> CaseState:
        """The whole state, for a later run that reopens this case (a closed run still answers)."""
        self._check_started()
        return self.state

    # ---- what the customer's account tells the case ---------------------------------------------------

    def _signal(self, model: type[M], name: str, args: Sequence[Any]) -> M | None:
        """A signal's payload, or None once its refusal is recorded (a case refused at start takes nothing)."""
        if self._refusal is not None:
            return None
        return read_signal(model, name, args, self._refuse)

    @workflow.signal(name="message_outcome")
    def message_outcome(self, *args: Any) -> None:
        if (outcome := self._signal(MessageOutcome, "message_outcome", args)) is not None:
            self._account.outcomes[outcome.step_id] = outcome.result

    @workflow.signal(name="customer_hold")
    def customer_hold(self, *args: Any) -> None:
        if (hold := self._signal(CustomerHoldNotice, "customer_hold", args)) is None:
            return
        if self._opening:  # the case has no policy yet: it takes the hold once it has one
            self._heard_while_opening.append(hold)
            return
        self._held_by_customer(hold)

    def _held_by_customer(self, hold: CustomerHoldNotice) -> None:
        """The account's hold, from its signal or (a case opening during it) from the ledger: since v18 both
        may bring the same hold, taken once."""
        held = self.state.customer_hold
        same = held is not None and (held.kind, held.reason, held.until) == (hold.kind, hold.reason, hold.until)
        if same and patched("quiet-open-v1"):
            return
        holds.hold_for_customer(self.state, hold.kind, hold.reason, hold.until, self.now(), by=hold.by)
        self._changed()

    @workflow.signal(name="customer_release")
    def customer_release(self, *args: Any) -> None:
        release = self._signal(CustomerReleaseNotice, "customer_release", args)
        if release is not None and self._opening:
            self._heard_while_opening.append(release)
        elif release is not None:
            self._released_by_customer(release)

    def _released_by_customer(self, release: CustomerReleaseNotice) -> None:
        if self.state.customer_hold is None:
            return
        holds.release_for_customer(self.state, release.by, self.now())
        self._changed()

    async def _first_policy(self, case: CaseInput, args: Sequence[Any]) -> Policy:
        """The policy a new case starts with (before v19); a case no policy takes, or a refused clock, is refused."""
        try:
            return await resolve_policy(case)
        except (ActivityError, ApplicationError) as err:
            await self._refuse_unopened(err, args)
            raise

    async def _refuse_unopened(self, err: ActivityError | ApplicationError, args: Sequence[Any]) -> None:
        """A case no policy takes, or a refused clock, is refused (this does not return); else the caller raises."""
        cause = failure_of(err)
        if cause is not None and cause.type in ("NoPolicy", *REFUSED_AT_START):
            await refuse_start(cause.message, args)

    async def _open_new(self, args: Sequence[Any]) -> None:
        """A new case opens in one local activity (generation v19): its policy chosen, its ledger row written and
        what the ledger says of its customer read. The activity records the policy at the history's end as it
        was sent; the case records it at the same place, before what signals added meanwhile, so the history
        reads as the ledger does (those entries are written next). The account's hold or release that came
        meanwhile is taken once the case has its policy (its pause counts from then)."""
        state, at, case_id = self.state, self.now(), workflow.info().workflow_id
        seq = state.history_end()
        self._opening = True
        try:
            opened = await open_new_case(CaseToOpen(state=state, case_id=case_id, at=at))
        except (ActivityError, ApplicationError) as err:
            await self._refuse_unopened(err, args)
            raise
        finally:
            self._opening = False
        state.take_policy(opened.policy, at, seq=seq)
        self._changed()
        self._ledger_written(seq + 1)
        self._heard_from_ledger(opened)
        for word in self._heard_while_opening:
            if isinstance(word, CustomerHoldNotice):
                self._held_by_customer(word)
            else:
                self._released_by_customer(word)
        self._heard_while_opening.clear()

    def _heard_from_ledger(self, opened: OpeningResult) -> None:
        """The customer as the ledger had it when the case opened: other open cases, and a hold (this case too)."""
        self.state.others_open_at_start = opened.others_open
        if opened.hold is not None:
            self._held_by_customer(opened.hold)

    async def _open(self) -> None:
        """The case's first ledger write, with (before v18) its account's first report, in one local activity."""
        upto = self.state.history_end()
        update = ledger_update(self.state, workflow.info().workflow_id, self.now(), upto)
        if patched("quiet-open-v1"):  # the account is not told: it reads the ledger when it acts
            quiet = await open_case_quiet(update)
            self._ledger_written(upto)
            self._heard_from_ledger(quiet)
            return
        opening = CaseOpening(ledger=update, report=self._account.opened_report())
        if patched("lone-voice-v1"):  # the case learns whether its customer has other open cases
            opened = await open_case_counted(opening)
            self.state.others_open_at_start = opened.others_open
        else:
            await open_case(opening)
        self._ledger_written(upto)

    async def _sync_ledger(self) -> None:
        """Write history entries the SQL ledger has not seen, with the case's current state."""
        state = self.state
        if state.ledger_synced >= state.history_end():
            return
        upto = state.history_end()
        update = ledger_update(state, workflow.info().workflow_id, self.now(), upto)
        await record_case(update)
        self._ledger_written(upto)

    def _ledger_written(self, upto: int) -> None:
        """Entries up to `upto` (the history's end when the write was made: signals may have added since) are in
        the ledger; the metrics count them once, read from the history rather than from a rebuilt update."""
        state = self.state
        written = state.history[state.ledger_synced - state.history_base : upto - state.history_base]
        state.ledger_synced = upto
        case_metrics.emit(written, state.case.currency)

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
        version, state = self._version, self.state
        # what changed while the loop was busy (an update during the ledger write) is written before any wait
        return lambda: (
            self._version != version
            or self._history_is_long(self._options)
            or state.ledger_synced < state.history_end()
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
            raise CaseClosed(f"case is closed ({self.state.outcome})")

    def _check(self, action: Action) -> None:
        if self.state.policy is None:  # a validator may run before the policy is chosen
            return
        try:
            self.state.check(action, self.now())
        except LetterNeverSent:
            # a case of an older generation took a returned letter it never sent, and replays so (a validator
            # writes nothing, so it always refuses)
            if workflow.unsafe.is_read_only() or patched("letter-first-v1"):
                raise

    async def _take(self, action: Action, *, answer: bool) -> CaseStatus | None:
        if isinstance(action, ReapplyPolicy):
            return await self._reapply(action, answer=answer)
        # a judgment's or an agency's payment is applied from inside the action: once, since recovery-once-v1
        nests = isinstance(action, (JudgmentPaid, AgencyUpdate))
        self.state.apply(action, self.now(), once=not nests or patched("recovery-once-v1"))
        self._changed()
        return self._status() if answer else None

    def _refuse(self, name: str, reason: str, payload: str) -> None:
        self.state.refuse(self.now(), name, reason, payload)

    def _drops_undecodable(self) -> bool:
        return not patched("signal-trace-v1")

    async def _reapply(self, action: ReapplyPolicy, *, answer: bool) -> CaseStatus | None:
        """An operator moves the running case to another policy, or to the newest version of its rules: the
        one action whose effect needs an activity (the policy is resolved as for a new case)."""
        state = self.state
        wanted = state.case.model_copy(update={"policy": action.policy})
        try:
            policy = await resolve_policy(wanted)
        except (ActivityError, ApplicationError) as err:
            failure = failure_of(err)
            reason = f"policy not re-applied: {failure.message if failure is not None else err}"
            if not answer:  # a signal cannot answer: its refusal is recorded
                self._refuse(action.name, reason, excerpt(action.model_dump(mode="json")))
                return None
            raise ApplicationError(reason, type="Rejected", non_retryable=True) from None
        state.reapply(policy, self.now(), action.by)
        self._changed()
        return self._status() if answer else None

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

    @workflow.query(name=SEEN_QUERY)
    def seen(self, *args: Any) -> CaseSeen:
        """What the last check before a message reads of the case (whether it chases, for how much): the part of
        `status` that check needs, without the history, the plan and the encoding of both."""
        self._check_started()
        if args:
            raise Rejected(f"{SEEN_QUERY} takes no argument; got {len(args)}")
        return case_view.seen(self.state, self.now())

    # ---- reading -------------------------------------------------------------------------------------

    def _status(self, seen_at: datetime | None = None) -> CaseStatus:
        now = seen_at or self.now()
        state = self.state
        upcoming = (
            None
            if state.closed or state.policy is None
            else planning.next_event(state, now, commit=False, notices=False)
        )
        return case_view.status(state, now, upcoming, planning.waiting_for(state, now))

    def _show_details(self, *, upsert: bool = True) -> None:
        """What the Temporal UI shows and filters on for the case right now (the search attributes, an event
        each time they change, left for later when `upsert` is False)."""
        state, now = self.state, self.now()
        workflow.set_current_details(case_view.details(state, now, self._next, planning.waiting_for(state, now)))
        self._unshown = True
        if upsert:
            self._show_unshown()

    def _due_now(self) -> bool:
        """The next event is due now (since v20): it runs in this workflow task, and the loop shows the search
        attributes once after it, not also before (an event fewer). A step that leaves the task first (an
        activity through the server, the account) shows them before it goes (`_show_unshown`)."""
        event = self._next
        return event is not None and event.at <= self.now() and patched("fire-unshown-v1")

    def _show_unshown(self) -> None:
        """The search attributes that changed since last shown, upserted (each upsert is an event)."""
        if self._unshown:
            self._unshown = False
            self._shown = upsert_changed_attributes(self.state, self._next, self._shown, self.now())
