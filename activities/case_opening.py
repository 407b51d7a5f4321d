"""Opening a case: its first ledger row and the first word to its customer's account, in one local activity.

A new case used to run them as two local activities, one after the other; together they save the case a
workflow activation, a history marker and a round of payload encoding, which is what holding 100,000 cases
costs the worker (see the README's figures).
"""

import asyncio

from temporalio import activity

from activities.customer_voice import CustomerVoice
from activities.ledger import LedgerWriter
from relance.domain.account import OPEN_CASE, OPEN_CASE_COUNTED, OPEN_CASE_QUIET, CaseOpening, OpeningResult
from relance.domain.activity_contract import LedgerUpdate
from relance.ledger.customer_days import customer_hold, others_open


class CaseOpener:
    def __init__(self, ledger: LedgerWriter, voice: CustomerVoice):
        self.ledger = ledger
        self.voice = voice

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

        def write_then_read() -> OpeningResult:
            written = self.ledger.write(update)  # first: a hold set from now on finds this case (customer_days)
            customer, engine = update.case.customer.id, self.ledger.engine
            others = others_open(engine, customer, update.case_id)
            return OpeningResult(written=written, others_open=others, hold=customer_hold(engine, customer))

        return await asyncio.to_thread(write_then_read)
