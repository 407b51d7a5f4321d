"""What the French e-invoicing platform's lifecycle statuses (CDAR, relance/einvoicing/cdar.py) do to a case,
credit notes, and the amounts a "212 Encaissée" reports: pure. Each action's check and effect, declared in
relance/domain/rules.py; the status table is what `relance policy explain` shows.

202/203 prove the buyer received the invoice (cited in the formal notice and the dossier); 205 and 206 approve
it, 206 only in part (what is chased narrows to the approved part; the rest is contested); 207 and 210 stop the
chase as a dispute; 208 suspends it until 209; 211 holds it while the money travels; 213 ends the case, since
the invoice was never legally issued. The others are recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from relance.domain.actions import CreditNoteApplied, DisputeOpened, EInvoiceStatus, Pause
from relance.domain.case_legal import Outcome
from relance.domain.errors import AlreadyRecorded, Rejected
from relance.domain.holds import Hold, open_dispute, pause
from relance.domain.money import ZERO, amount_ok

if TYPE_CHECKING:
    from relance.domain.case import CaseState
    from relance.domain.policy import Policy


@dataclass(frozen=True)
class Status:
    label: str  # the platform's word (French), as the debtor's platform shows it
    meaning: str  # what it does to a case, in words (`relance policy explain`)


STATUSES: dict[str, Status] = {
    "200": Status("Déposée", "recorded"),
    "201": Status("Émise", "recorded"),
    "202": Status("Reçue", "recorded: proof that the buyer received the invoice (formal notice, dossier)"),
    "203": Status("Mise à disposition", "recorded: proof that the invoice was made available to the buyer"),
    "204": Status("Prise en charge", "recorded"),
    "205": Status("Approuvée", "recorded; the whole invoice is approved (a part contested by a 206 is chased again)"),
    "206": Status("Approuvée partiellement", "only the approved part is chased; the rest is contested"),
    "207": Status("En litige", "a dispute, with the platform's reason: the chase pauses"),
    "208": Status("Suspendue", "the chase pauses until 209; a person supplies what is missing"),
    "209": Status("Complétée", "a suspension (208) ends: the chase resumes"),
    "210": Status("Refusée", "the chase stops (a dispute); a person issues the credit note or the corrected invoice"),
    "211": Status("Paiement transmis", "no reminder for einvoicing.payment_sent_days; then the chase resumes"),
    "212": Status("Encaissée", "recorded (sent by us when a payment is applied)"),
    "213": Status("Rejetée", "the invoice is not legally issued: the case ends"),
}
MAX_STATUSES_KEPT = 200


def status_path(policy: Policy) -> list[tuple[str, str, str]]:
    """How each platform status changes a case's path under `policy`: (code, label, effect in words)."""
    rules = policy.einvoicing
    effects = {code: status.meaning for code, status in STATUSES.items()}
    effects["211"] = (
        f"no reminder for {rules.payment_sent_days} days, then the chase resumes (a person checks the bank)"
    )
    if rules.require_receipt:
        for code in ("202", "203"):
            effects[code] = f"the first reminder waits for it; {effects[code]}"
    return [(code, status.label, effects[code]) for code, status in STATUSES.items()]


SUSPENDED = "einvoice_suspended"


class EInvoiceTrail(BaseModel):
    """What the platform said of the invoice."""

    seen: list[str] = Field(default_factory=list)  # status ids recorded (the latest MAX_STATUSES_KEPT)
    last_code: str | None = None
    received_on: date | None = None  # 202 or 203: the buyer has the invoice
    contested: Decimal = ZERO  # 206: the part not approved, not chased


def label(code: str) -> str:
    return f"{code} {STATUSES[code].label}" if code in STATUSES else code


def check_status(state: CaseState, action: EInvoiceStatus, now: datetime) -> None:
    trail = state.einvoice
    if trail is not None and action.status_id in trail.seen:
        raise AlreadyRecorded(f"status {action.status_id} is already recorded")
    if action.code == "206":
        if action.amount is None:
            raise Rejected("a 206 (approuvée partiellement) needs the approved amount")
        amount_ok(state, action.amount, "amount")
        if action.amount >= state.balance:
            raise Rejected(f"the approved amount {action.amount} is not below the balance {state.balance}: a 205")


def apply_status(state: CaseState, action: EInvoiceStatus, now: datetime) -> None:
    trail = state.einvoice = state.einvoice or EInvoiceTrail()
    trail.seen = [*trail.seen, action.status_id][-MAX_STATUSES_KEPT:]
    trail.last_code = action.code
    said = "; ".join(part for part in (action.reason_code, action.note) if part)
    state.record(
        now, "einvoice_status", f"e-invoicing platform: {label(action.code)}" + (f" ({said})" if said else ""),
        by=action.by, code=action.code, status_id=action.status_id, at=action.at.isoformat(),
        reason_code=action.reason_code, amount=str(action.amount) if action.amount is not None else None,
    )  # fmt: skip
    why = f"{label(action.code)}" + (f": {said}" if said else "")
    match action.code:
        case "202" | "203":
            trail.received_on = trail.received_on or action.at.date()
        case "205":
            trail.contested = ZERO
        case "206":
            assert action.amount is not None
            trail.contested = state.balance - action.amount
            state.record(now, "partly_contested", f"{trail.contested} {state.case.currency} contested", by=action.by)
        case "207" | "210":
            if state.dispute is None:
                reason = f"plateforme de facturation, {why}"
                open_dispute(state, DisputeOpened(reason=reason[:1000], by=action.by), now)
        case "208":
            state.manual_pause = Hold(reason=f"plateforme de facturation, {why}", since=now, kind=SUSPENDED)
            state.record(now, "paused", f"paused: the platform suspended the invoice ({why})", by=action.by)
        case "209":
            if state.manual_pause is not None and state.manual_pause.kind == SUSPENDED:
                state.manual_pause = None
                state.record(now, "resumed", "the platform says the invoice is complete (209)", by=action.by)
        case "211":
            assert state.policy is not None
            until = state.today(now) + timedelta(days=state.policy.einvoicing.payment_sent_days)
            pause(state, Pause(reason=f"plateforme de facturation, {why}", until=until, by=action.by), now)
        case "213":
            state.close(now, Outcome.cancelled, f"the invoice is not legally issued: {why}", by=action.by)


def check_credit_note(state: CaseState, action: CreditNoteApplied, now: datetime) -> None:
    if action.credit_note in state.credit_notes:
        raise AlreadyRecorded(f"credit note {action.credit_note} is already applied")
    amount_ok(state, action.amount, "amount")
    if action.amount > state.balance:
        raise Rejected(
            f"credit note {action.credit_note} of {action.amount} is more than the balance {state.balance}: "
            "what was paid beyond it is a refund, for a person"
        )


def apply_credit_note(state: CaseState, action: CreditNoteApplied, now: datetime) -> None:
    state.credit_notes = [*state.credit_notes, action.credit_note]
    state.credited += action.amount
    state.balance -= action.amount
    if state.einvoice is not None:
        state.einvoice.contested = max(ZERO, state.einvoice.contested - action.amount)
    state.record(
        now, "credit_note_applied", f"credit note {action.credit_note}: {action.amount} {state.case.currency} credited",
        by=action.by, credit_note=action.credit_note, credited=str(action.amount),
    )  # fmt: skip
    if state.balance <= 0:
        state.balance = ZERO
        outcome = Outcome.paid if state.total_paid > 0 else Outcome.cancelled
        state.close(now, outcome, "nothing left to collect after the credit note", by=action.by)


def split_by_vat(amount: Decimal, shares: list[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal]]:
    """A payment split by VAT rate in proportion to the invoice: `shares` are (rate, the invoice's amount tax
    included at that rate); each rate's part to the cent, the last cent to the largest share, so the parts add
    up to the payment exactly. No breakdown: one part, at no rate known (0)."""
    whole = sum((share for _, share in shares), ZERO)
    if not shares or whole == 0:
        return [(ZERO, amount)]
    parts = [(rate, (amount * share / whole).quantize(Decimal("0.01"), ROUND_HALF_UP)) for rate, share in shares]
    largest = max(range(len(parts)), key=lambda n: abs(shares[n][1]))
    rate, part = parts[largest]
    parts[largest] = (rate, part + amount - sum((p for _, p in parts), ZERO))
    return parts
