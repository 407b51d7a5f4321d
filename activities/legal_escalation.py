"""The legal steps: formal notice by registered letter, the injonction de payer dossier, the agency hand-off.

Each computes the statement of account at the step's date from the rates file (a period the file does not
cover fails the step with that reason, never a silent zero), re-checks the case right before acting,
and acts at most once per case and step.
"""

import asyncio
import base64
import json
import shutil
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.agency_delivery import deliver_case_file, delivered_to_folder
from activities.case_guard import still_wanted
from activities.debtor_contact import render_step
from activities.delivery import Outcome, deliver_once
from activities.letter_delivery import Letter, LetterProvider, address_lines
from activities.side_effects import SideEffects
from relance.domain.activity_contract import (
    HAND_OFF_TO_AGENCY,
    MISSING_RATE,
    PREPARE_COURT_DOSSIER,
    SEND_FORMAL_NOTICE,
    LegalStepRequest,
    StepResult,
)
from relance.domain.case_legal import claim_of, court_for, paid_of
from relance.domain.deliveries import reminders_sent
from relance.domain.money import format_money
from relance.domain.penalties import MissingRate, Statement, statement, statement_dict
from relance.domain.policy import Agency
from relance.ledger.documents import stored_file
from relance.ledger.einvoices import invoice_document
from relance.ledger.work_queue import close_task_by_key, create_task
from relance.rates.table_file import load_rates
from relance.rendering.documents import (
    DossierSummary,
    Party,
    creditor_party,
    dossier_summary_pdf,
    formal_notice_pdf,
    letter_date,
    reminder_line,
)
from relance.rendering.messages import Rendered
from relance.settings import Settings

RATE_TASK_ASSIGNEE = "legal"


def rate_task_key(request: LegalStepRequest) -> str:
    return f"{request.idempotency_key}:missing-rate"


def _refused(message: str, kind: str = "DeliveryRefused") -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


class LegalEscalation:
    def __init__(self, client: Client, settings: Settings, letters: LetterProvider, engine: Engine):
        self.client = client
        self.settings = settings
        self.letters = letters
        self.engine = engine
        self.side_effects = SideEffects(engine)

    # ---- shared ---------------------------------------------------------------------------------------

    def _statement(self, request: LegalStepRequest, at: date) -> Statement | StepResult:
        """The statement at `at`, or the answer that makes the case wait for a rate the table lacks."""
        claim = claim_of(
            invoice_id=request.invoice_id,
            currency=request.currency,
            amount=request.amount,
            credited=request.credited,
            due_date=request.due_date,
            debtor_kind=request.customer.kind.value,
            penalty_rate=request.penalty_rate,
            imputation=request.imputation,
            formal_notice=request.formal_notice,
        )
        try:
            result = statement(claim, paid_of(request.payments), at, load_rates(self.settings.rates_file))
        except MissingRate as err:
            task_id = self._rate_task(request, str(err))
            reason = f"statement of account impossible: {err} (task #{task_id} for {RATE_TASK_ASSIGNEE})"
            return StepResult(status="deferred", detail=reason, error_type=MISSING_RATE)
        close_task_by_key(
            self.engine, rate_task_key(request), "done", "the rate is in the table now; the case goes on", "relance"
        )
        return result

    def _rate_task(self, request: LegalStepRequest, missing: str) -> int:
        """One task per case and step tells a person which rate to add; the case retries by itself each day."""
        script = (
            f"{request.step_id} for invoice {request.invoice_id} waits: {missing}.\n"
            "Add the rate to the rates file (relance rates update for the ECB rate; relance rates set-legal "
            "PERIOD --private X --other Y --source ARRÊTÉ for the legal rate), then close this task. The case "
            "tries again each day and runs the step once the rate is there."
        )
        keyed = request.model_copy(update={"idempotency_key": rate_task_key(request), "assignee": RATE_TASK_ASSIGNEE})
        task_id, _ = create_task(self.engine, keyed, "add_rate", script)
        return task_id

    def _render(self, channel: str, request: LegalStepRequest, balance: Any, extra: dict[str, Any]) -> Rendered:
        return render_step(channel, request, balance, self.settings, extra)

    def _creditor(self) -> Party:
        return creditor_party(self.settings)

    def _case_folder(self, request: LegalStepRequest) -> Path:
        folder = self.settings.documents_dir / request.case_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _money(self, request: LegalStepRequest, amount: Any) -> str:
        return format_money(amount, request.currency, request.customer.language.value)

    async def _once(
        self,
        request: LegalStepRequest,
        channel: str,
        effect: Callable[[], str],
        find: Callable[[str], str | None] | None,
    ) -> Outcome | StepResult:
        """The side effect at most once for the step; a StepResult when it stops the step (in doubt)."""
        return await deliver_once(self.side_effects, request, channel, effect, find)

    # ---- formal notice ----------------------------------------------------------------------------------

    @activity.defn(name=SEND_FORMAL_NOTICE)
    async def send_formal_notice(self, request: LegalStepRequest) -> StepResult:
        stop, case = await still_wanted(self.client, request)
        if stop is not None or case is None:
            return stop or StepResult(status="deferred", detail="case not readable")
        address = address_lines(request)
        result = self._statement(request, request.as_of)
        if isinstance(result, StepResult):
            return result
        lang = request.customer.language.value
        _, court = court_for(request.customer.kind.value, result.total_due, False)
        text = self._render(
            "letter",
            request,
            case.balance,
            {
                "total_due": self._money(request, result.total_due),
                "deadline_days": request.deadline_days,
                "court": court,
                "reminded": any(c.channel in ("email", "phone") for c in request.contacts),
            },
        )
        pdf = formal_notice_pdf(
            creditor=self._creditor(),
            debtor=Party(request.customer.name, address, request.customer.id),
            dated=letter_date(request.as_of, lang),
            subject=text.subject,
            body=text.body,
            result=result,
            lang=lang,
        )
        copy = self._case_folder(request) / f"{request.step_id}.pdf"
        copy.write_bytes(pdf)
        letter = Letter(request.idempotency_key, request.case_id, request.customer.name, address, text.subject, pdf)
        find = self.letters.find_sent if self.letters.knows_what_it_sent else None
        done = await self._once(request, "letter", lambda: self.letters.send(letter), find)
        if isinstance(done, StepResult):
            return done
        return StepResult(
            status="sent" if done.state == "done" else "already_done",
            channel="letter",
            provider_id=done.provider_id,
            document=str(copy),
            balance=case.balance,
            detail=f"formal notice by registered letter ({done.provider_id}): {self._money(request, result.total_due)} "
            f"due, {request.deadline_days} days from delivery",
        )

    # ---- injonction de payer dossier ------------------------------------------------------------------------

    @activity.defn(name=PREPARE_COURT_DOSSIER)
    async def prepare_court_dossier(self, request: LegalStepRequest) -> StepResult:
        stop, case = await still_wanted(self.client, request)
        if stop is not None or case is None:
            return stop or StepResult(status="deferred", detail="case not readable")
        result = self._statement(request, request.as_of)
        if isinstance(result, StepResult):
            return result
        return await asyncio.to_thread(self._build_dossier, request, case.balance, result)

    def _build_dossier(self, request: LegalStepRequest, balance: Any, result: Statement) -> StepResult:
        route, court = court_for(request.customer.kind.value, result.total_due, request.small_claims)
        folder = self._case_folder(request) / request.step_id
        if folder.exists():
            shutil.rmtree(folder)  # a retry rebuilds the whole dossier, never half of it
        folder.mkdir()
        documents = ["facture " + request.invoice_id + " (à joindre : original de la facture et conditions de vente)"]
        imported = stored_file(self.settings.documents_dir, invoice_document(self.engine, request.invoice_id))
        if imported is not None:  # the invoice came as an e-invoice: its PDF is the original to attach
            shutil.copy(imported, folder / "facture.pdf")
            documents[0] = f"facture.pdf (facture {request.invoice_id}, reçue comme facture électronique)"
        if request.einvoice_received_on is not None:  # the platform's status 202/203: the debtor had the invoice
            documents.append(
                f"facture reçue par le débiteur via la plateforme de facturation électronique le "
                f"{request.einvoice_received_on:%d/%m/%Y} (statut du cycle de vie)"
            )
        notice = request.formal_notice
        notice_lines = ["aucune mise en demeure envoyée"]
        if notice is not None:
            notice_lines = [
                f"envoyée le {notice.sent_on:%d/%m/%Y} ({notice.letter_id}), délai de {notice.deadline_days} jours",
                f"remise le {notice.delivered_on:%d/%m/%Y}, suivi {notice.tracking_number}"
                if notice.delivered_on
                else "preuve de remise non reçue",
            ]
            if notice.document and Path(notice.document).exists():
                shutil.copy(notice.document, folder / "mise_en_demeure.pdf")
                documents.append("mise_en_demeure.pdf")
        zone = "Europe/Paris"  # the dossier is French: its times are Paris's
        contacts = [
            (f"{c.at:%d/%m/%Y}", c.channel, reminder_line(c, zone))
            for c in reminders_sent(request.contacts, request.deliveries)
        ]
        debtor = Party(request.customer.name, address_lines(request), request.customer.id)
        data = {
            "route": route,
            "court": court,
            "creditor": vars(self._creditor()),
            "debtor": vars(debtor),
            "invoice": {
                "id": request.invoice_id,
                "issue_date": str(request.issue_date),
                "due_date": str(request.due_date),
            },
            "amounts": {
                "currency": request.currency,
                "principal": str(result.principal_due),
                "interest": str(result.interest_due),
                "indemnity": str(result.indemnity_due),
                "costs": "0.00",
                "total": str(result.total_due),
            },
            "statement": statement_dict(result),
            "contacts": [{"date": d, "channel": ch, "what": what} for d, ch, what in contacts],
            "formal_notice": notice.model_dump(mode="json") if notice else None,
            "limitation_date": str(request.limitation_date),
        }
        (folder / "requete.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        (folder / "decompte.json").write_text(json.dumps(statement_dict(result), ensure_ascii=False, indent=2))
        documents += ["requete.json", "decompte.json", "synthese.pdf"]
        summary = DossierSummary(
            creditor=self._creditor(),
            debtor=debtor,
            court=court,
            route=route,
            invoice_id=request.invoice_id,
            issue_date=request.issue_date,
            due_date=request.due_date,
            result=result,
            contacts=contacts,
            formal_notice=notice_lines,
            documents=documents,
            limitation_date=request.limitation_date,
            debtor_city=request.customer.address.city if request.customer.address else "",
        )
        (folder / "synthese.pdf").write_bytes(dossier_summary_pdf(summary))
        archive = folder.with_suffix(".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(folder.iterdir()):
                bundle.write(path, f"{request.invoice_id}/{path.name}")
        total = self._money(request, result.total_due)
        script = self._render("task", request, balance, {"dossier": str(archive), "court": court, "total_due": total})
        task_id, _ = create_task(self.engine, request, "file_injonction", f"{script.subject}\n\n{script.body}")
        return StepResult(
            status="sent",
            channel="court",
            provider_id=f"task:{task_id}",
            document=str(archive),
            route=route,
            court=court,
            balance=balance,
            detail=f"{route} dossier for the {court} ({total}); task #{task_id} to file it",
        )

    # ---- agency hand-off -----------------------------------------------------------------------------

    @activity.defn(name=HAND_OFF_TO_AGENCY)
    async def hand_off_to_agency(self, request: LegalStepRequest) -> StepResult:
        agency = request.agency
        if agency is None or not agency.mandate_reference:
            name = agency.name if agency else "no agency"
            raise _refused(f"hand-off to {name} refused: no written mandate reference (CPCE R124-3)")
        stop, case = await still_wanted(self.client, request)
        if stop is not None or case is None:
            return stop or StepResult(status="deferred", detail="case not readable")
        result = self._statement(request, request.as_of)
        if isinstance(result, StepResult):
            return result
        case_file = self._case_file(request, agency, result)
        folder = self._case_folder(request)
        (folder / "agency_case.json").write_text(json.dumps(case_file, ensure_ascii=False, indent=2), encoding="utf-8")
        http = agency.delivery.kind == "http"

        def deliver() -> str:
            return deliver_case_file(agency, request.case_id, request.idempotency_key, case_file)

        find = None if http else (lambda _key: delivered_to_folder(agency, request.case_id))
        done = await self._once(request, "agency", deliver, find)
        if isinstance(done, StepResult):
            return done
        total = self._money(request, result.total_due)
        script = self._render(
            "task",
            request,
            case.balance,
            {
                "agency": agency.name,
                "mandate": agency.mandate_reference,
                "commission_rate": agency.commission_rate,
                "total_due": total,
            },
        )
        await asyncio.to_thread(create_task, self.engine, request, "agency", f"{script.subject}\n\n{script.body}")
        return StepResult(
            status="sent" if done.state == "done" else "already_done",
            channel="agency",
            provider_id=done.provider_id,
            document=str(folder / "agency_case.json"),
            balance=case.balance,
            detail=f"handed to {agency.name} (mandate {agency.mandate_reference}): {total} to recover",
        )

    def _case_file(self, request: LegalStepRequest, agency: Agency, result: Statement) -> dict[str, Any]:
        """What the agency needs to write to the debtor (CPCE R124-4): who we are, the debt split into
        principal, interest and other items (never the agency's fees), and the documents."""
        documents = {}
        notice = request.formal_notice
        if notice is not None and notice.document and Path(notice.document).exists():
            documents["mise_en_demeure.pdf"] = base64.b64encode(Path(notice.document).read_bytes()).decode()
        return {
            "mandate_reference": agency.mandate_reference,
            "case_id": request.case_id,
            "creditor": vars(self._creditor()),
            "debtor": request.customer.model_dump(mode="json"),
            "invoice": {
                "id": request.invoice_id,
                "issue_date": str(request.issue_date),
                "due_date": str(request.due_date),
            },
            "debt": {
                "currency": request.currency,
                "principal": str(result.principal_due),
                "interest": str(result.interest_due),
                "other": str(result.indemnity_due),
                "total": str(result.total_due),
            },
            "statement": statement_dict(result),
            "contacts": [c.model_dump(mode="json") for c in request.contacts],
            "formal_notice": notice.model_dump(mode="json") if notice else None,
            "limitation_date": str(request.limitation_date),
            "documents": documents,
        }
