"""Opening a case in one local activity: its policy chosen (since v19), its first ledger row written, and what
the ledger says of its customer read (since v18; before, the first word to its customer's account).

Each activity merged here saves the case a history marker and a round of payload encoding, which is what
holding 100,000 cases costs the worker (see the README's figures).
"""

import asyncio

from temporalio import activity

from activities.customer_voice import CustomerVoice
from activities.ledger import LedgerWriter
from activities.policy_resolution import PolicyResolution
from relance.domain.account import (
    OPEN_CASE,
    OPEN_CASE_COUNTED,
    OPEN_CASE_QUIET,
    OPEN_NEW_CASE,
    CaseOpening,
    CaseToOpen,
    OpenedCase,
    OpeningResult,
)
from relance.domain.activity_contract import LedgerUpdate, ledger_update
from relance.ledger.customer_days import others_open, what_a_new_case_reads


class CaseOpener:
    def __init__(self, ledger: LedgerWriter, voice: CustomerVoice, policies: PolicyResolution):
        self.ledger = ledger
        self.voice = voice
        self.policies = policies

    @activity.defn(name=OPEN_CASE)
    async def open_case(self, opening: CaseOpening) -> int:
        """The ledger first (an upsert of the case and its new entries), then the account's signal-with-start
        (which starts the account once, and which the account takes once per case): run again after a failure
        in between, neither is done twice. Returns how many history entries were written."""
        written = await self.ledger.record_case(opening.ledger)
        await self.voice.report_to_customer(opening.report)
        return written

    @activity.defn(name=OPEN_CASE_COUNTED)
    async def open_case_counted(self, opening: CaseOpening) -> OpeningResult:
        """`open_case`, and how many other open cases the customer has once this one is in the ledger."""
        written = await self.open_case(opening)
        customer, case_id = opening.ledger.case.customer.id, opening.ledger.case_id
        others = await asyncio.to_thread(others_open, self.ledger.engine, customer, case_id)
        return OpeningResult(written=written, others_open=others)

    @activity.defn(name=OPEN_CASE_QUIET)
    async def open_case_quiet(self, update: LedgerUpdate) -> OpeningResult:
        """The case's first ledger write, then what the ledger says of its customer: other open cases, and a
        hold. Its account is not told (quiet-open-v1): a case not yet due costs no account."""
        return await asyncio.to_thread(self._write_then_read, update)

    @activity.defn(name=OPEN_NEW_CASE)
    async def open_new_case(self, opening: CaseToOpen) -> OpenedCase:
        """A new case's policy chosen (a typed refusal when none takes it: nothing is written), then
        `open_case_quiet` with the ledger update the workflow will have once it takes the policy: both sides
        apply the same `CaseState.take_policy` at the same instant and sequence."""

        def choose_write_read() -> OpenedCase:
            state = opening.state
            policy = self.policies.policy_for(state.case)
            seq = state.history_end()
            state.take_policy(policy, opening.at, seq=seq)
            opened = self._write_then_read(ledger_update(state, opening.case_id, opening.at, seq + 1))
            return OpenedCase(**dict(opened), policy=policy)

        return await asyncio.to_thread(choose_write_read)

    def _write_then_read(self, update: LedgerUpdate) -> OpeningResult:
        written = self.ledger.write(update)  # first: a hold set from now on finds this case (customer_days)
        others, hold = what_a_new_case_reads(self.ledger.engine, update.case.customer.id, update.case_id)
        return OpeningResult(written=written, others_open=others, hold=hold)
