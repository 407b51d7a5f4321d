"""Where a returned direct debit is presented again: a pain.008 file for the bank, written once per case
step into the folder the bank connection takes files from, after the case is asked again whether it is
still owed (never more than the live balance is debited)."""

from pathlib import Path

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.case_guard import live_balance, still_wanted
from activities.delivery import deliver_once, file_stem, write_whole
from activities.side_effects import SideEffects
from relance.bank.sepa import Creditor, Debit, SepaRefused, pain008
from relance.domain.activity_contract import REPRESENT_DIRECT_DEBIT, DebitRequest, StepResult
from relance.settings import Settings

CHANNEL = "direct_debit"


class DirectDebits:
    def __init__(self, client: Client, settings: Settings, engine: Engine):
        self.client, self.settings, self.guard = client, settings, SideEffects(engine)

    def path_for(self, key: str) -> Path:
        return self.settings.sepa_dir / f"{file_stem(key)}.xml"

    @activity.defn(name=REPRESENT_DIRECT_DEBIT)
    async def represent_direct_debit(self, request: DebitRequest) -> StepResult:
        stop, case = await still_wanted(self.client, request)
        if stop is not None:
            return stop
        amount = min(request.debit_amount, live_balance(case))
        settings = self.settings
        if not settings.sepa_creditor_id or not settings.creditor_iban:
            raise ApplicationError(
                "a direct debit needs RELANCE_SEPA_CREDITOR_ID and RELANCE_CREDITOR_IBAN", type="DeliveryRefused",
                non_retryable=True,
            )  # fmt: skip
        creditor = Creditor(settings.creditor_name, settings.creditor_iban, settings.sepa_creditor_id,
                            settings.creditor_bic)  # fmt: skip
        debit = Debit(request.mandate, amount, request.currency, request.collect_on, request.end_to_end_id,
                      f"Facture {request.invoice_id}")  # fmt: skip
        try:
            document = pain008(creditor, debit)
        except SepaRefused as exc:
            raise ApplicationError(str(exc), type="DeliveryRefused", non_retryable=True) from exc
        path = self.path_for(request.idempotency_key)

        def write() -> str:
            write_whole(path, document)  # the bank's pick-up never reads half
            return f"pain.008:{path.name}"

        def find_sent(_: str) -> str | None:
            return f"pain.008:{path.name}" if path.exists() else None

        done = await deliver_once(self.guard, request, CHANNEL, write, find_sent)
        if isinstance(done, StepResult):
            return done
        return StepResult(
            status="sent" if done.state == "done" else "already_done",
            channel=CHANNEL,
            provider_id=done.provider_id,
            balance=live_balance(case),
            document=str(path),
            detail=(
                f"{amount} {request.currency} presented again on mandate {request.mandate.umr} for collection on "
                f"{request.collect_on} ({done.provider_id}, end-to-end id {request.end_to_end_id})"
            ),
        )
