"""Applying a bank statement: each booked credit to the cases, the customer account or a person; each
returned payment back onto the payment it undoes; every entry once, with its decision kept in the ledger.

A payment is sent before its entry is recorded, and a case refuses a payment reference it already has, so an
import cut short and run again applies nothing twice and loses nothing. An entry the ledger already has is
checked against it (`prior_verdict`): the same key saying something else is a conflict for a person.
"""

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from relance.bank.entries import (
    SEEN_UNDER_OLDER_KEY,
    BankEntry,
    Conflict,
    Prior,
    Statement,
    Transaction,
    prior_verdict,
)
from relance.domain.account import UnallocatedPayment
from relance.domain.actions import PaymentReceived, PaymentReversed
from relance.domain.direct_debit import DebitMandate
from relance.domain.remittance import (
    Credit,
    Decision,
    KnownPayment,
    Learned,
    Pay,
    Payer,
    Reverse,
    Review,
    Unallocated,
    decide,
    match_return,
    normalize_iban,
    normalize_name,
)
from relance.ledger.bank_ledger import (
    kept_entries,
    known_payments,
    learned,
    ledger_items,
    record_entry,
)
from relance.ledger.mandates import mandate_for
from relance.ledger.work_queue import create_review_task
from starter.ops import (
    ActionRejected,
    AlreadyRecorded,
    AlreadyReversed,
    UnknownCase,
    act,
    act_on_account,
    reverse_payment,
)

BY = "bank"
SEEN_BEFORE = "applied by an earlier import"
PENDING = "not booked yet: left for a later file"


@dataclass(frozen=True)
class Outcome:
    reference: str
    amount: Decimal
    currency: str
    decision: str  # paid, split, unallocated, review, credit, return, ours_back, conflict, pending, debit, already_seen
    detail: str
    undone: tuple[tuple[str, str, str], ...] = ()  # a return: (invoice, amount, payment reference) it reversed


@dataclass
class BankImportSummary:
    statement: str
    outcomes: list[Outcome] = field(default_factory=list)

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per decision: how many entries, and their amounts per currency."""
        counts = Counter(o.decision for o in self.outcomes)
        result: dict[str, dict[str, Any]] = {}
        for decision, count in counts.items():
            amounts: dict[str, Decimal] = {}
            for o in self.outcomes:
                if o.decision == decision:
                    amounts[o.currency] = amounts.get(o.currency, Decimal(0)) + o.amount
            result[decision] = {"count": count, "amounts": {c: str(a) for c, a in sorted(amounts.items())}}
        return result


async def import_statement(
    client: Client, engine: Engine, statement: Statement, *, today: date, task_queue: str
) -> BankImportSummary:
    summary = BankImportSummary(f"{statement.format} {statement.statement_id}")
    items, teach = ledger_items(engine), learned(engine)
    payments: list[KnownPayment] | None = None
    for entry in statement.entries:
        if not entry.booked:
            summary.outcomes.append(_outcome(entry.reference, entry, "pending", PENDING))
            continue
        priors = _priors(engine, entry)
        verdict = prior_verdict(entry, priors, summary.statement)
        if isinstance(verdict, Conflict):
            summary.outcomes.append(_conflict(engine, entry, verdict, today))
            continue
        if verdict == SEEN_UNDER_OLDER_KEY:
            summary.outcomes.append(_outcome(entry.reference, entry, "already_seen", f"{SEEN_BEFORE} (older key)"))
            continue
        kept = {p.reference for p in priors}
        if entry.comes_back_to_us:
            if entry.reference in kept:
                summary.outcomes.append(_outcome(entry.reference, entry, "already_seen", SEEN_BEFORE))
                continue
            tx = _merged(entry)
            what = "one of our debits reversed" if entry.reversal else "one of our transfers returned"
            detail = f"{what} ({tx.return_reason or 'no reason given'}): not a customer paying"
            summary.outcomes.append(
                _keep(engine, entry, entry.reference, tx, entry.amount, summary.statement, "ours_back", None, [],
                      detail, None)
            )  # fmt: skip
        elif entry.credit:
            for reference, tx, amount in _parts(entry):
                if reference in kept:
                    summary.outcomes.append(_outcome(reference, entry, "already_seen", SEEN_BEFORE, amount))
                    continue
                payer = Payer(tx.debtor_iban, tx.debtor_name)
                decision = decide(amount, entry.currency, tx.remittance, payer, items, teach)
                outcome = await _apply_credit(
                    client, engine, entry, reference, tx, amount, decision, today, summary.statement, task_queue
                )
                summary.outcomes.append(outcome)
                if outcome.decision in ("paid", "split", "unallocated"):
                    customer = getattr(decision, "customer_id", None)
                    teach = _taught(teach, payer, customer)
        elif entry.is_return:
            if entry.reference in kept:
                summary.outcomes.append(_outcome(entry.reference, entry, "already_seen", SEEN_BEFORE))
                continue
            if payments is None:  # read once per statement, at its first return
                payments = known_payments(engine)
            outcome = await _apply_return(client, engine, entry, today, summary.statement, task_queue, payments, teach)
            summary.outcomes.append(outcome)
            undone = {(i, ref) for i, _, ref in outcome.undone}
            payments = [p for p in payments if (p.invoice_id, p.reference) not in undone]
        else:
            summary.outcomes.append(_outcome(entry.reference, entry, "debit", "a debit that is not a return: not ours"))
    return summary


def _priors(engine: Engine, entry: BankEntry) -> list[Prior]:
    rows = kept_entries(engine, entry.account, [entry.reference, *entry.aliases], entry.bank_reference)
    return [
        Prior(r.reference, r.statement, r.fingerprint, r.credit, r.amount, r.currency, r.booking_date, r.bank_reference)
        for r in rows
    ]


def _conflict(engine: Engine, entry: BankEntry, conflict: Conflict, today: date) -> Outcome:
    """Nothing applied: a task shows both versions to a person (one task per version, however often the
    file is imported again)."""
    tx = _merged(entry)
    script = (
        f"A bank entry disagrees with one already imported: {conflict.why}.\n"
        f"This file's entry: {entry.amount} {entry.currency} {'credit' if entry.credit else 'debit'} of "
        f"{entry.booking_date or entry.value_date}, text {tx.remittance or '(none)'}, payer {tx.debtor_name or '?'}.\n"
        "Nothing was applied. If it is a new movement, apply it by hand; if the bank corrected the first one, "
        "correct the case it went to."
    )
    task_id = create_review_task(
        engine, f"bank-conflict:{entry.account}:{entry.reference}:{entry.fingerprint}", script, invoice_id="",
        customer_id="", due_on=today, kind="bank_conflict",
    )  # fmt: skip
    return _outcome(entry.reference, entry, "conflict", f"{conflict.why} (task #{task_id})")


def _parts(entry: BankEntry) -> list[tuple[str, Transaction, Decimal]]:
    """A batch entry whose transactions carry their amounts is matched transaction by transaction."""
    txs = entry.transactions
    if len(txs) > 1 and all(t.amount is not None for t in txs) and sum(t.amount or 0 for t in txs) == entry.amount:
        return [(f"{entry.reference}/{n}", t, t.amount or Decimal(0)) for n, t in enumerate(txs, 1)]
    return [(entry.reference, _merged(entry), entry.amount)]


def _merged(entry: BankEntry) -> Transaction:
    """The entry's transaction details read as one: the first id, name and account, every text."""
    txs = entry.transactions
    return Transaction(
        amount=entry.amount,
        end_to_end_id=next((t.end_to_end_id for t in txs if t.end_to_end_id), None),
        debtor_name=next((t.debtor_name for t in txs if t.debtor_name), None),
        debtor_iban=next((t.debtor_iban for t in txs if t.debtor_iban), None),
        remittance=" ".join(t.remittance for t in txs if t.remittance),
        return_reason=next((t.return_reason for t in txs if t.return_reason), None),
        mandate_id=next((t.mandate_id for t in txs if t.mandate_id), None),
        direct_debit=any(t.direct_debit for t in txs),
        fee=sum((t.fee for t in txs), start=Decimal(0)),
        fee_included=any(t.fee_included for t in txs),
    )


async def _apply_credit(
    client: Client,
    engine: Engine,
    entry: BankEntry,
    reference: str,
    tx: Transaction,
    amount: Decimal,
    decision: Decision,
    today: date,
    statement: str,
    task_queue: str,
) -> Outcome:
    paid_on = entry.booking_date or today
    allocations: list[list[str]] = []
    customer: str | None = None
    task_id: int | None = None
    match decision:
        case Pay():
            customer = decision.customer_id
            kind = "paid" if len(decision.allocations) == 1 else "split"
            for invoice_id, part in decision.allocations:
                payment_ref = reference if len(decision.allocations) == 1 else f"{reference}/{invoice_id}"
                problem = await _pay(client, invoice_id, part, paid_on, payment_ref)
                if problem is not None:
                    decision = Review(f"{invoice_id} refused the payment: {problem}", [invoice_id])
                    break
                allocations.append([invoice_id, str(part), payment_ref])
            else:
                detail = f"{decision.why}; " + ", ".join(f"{i} {a}" for i, a, _ in allocations)
        case Unallocated():
            customer = decision.customer_id
            kind, detail = "unallocated", decision.why
            try:
                await act_on_account(
                    client,
                    engine,
                    customer,
                    UnallocatedPayment(amount=amount, paid_on=paid_on, reference=reference[:60], by=BY),
                    task_queue,
                )
            except (ActionRejected, UnknownCase) as err:
                decision = Review(f"customer {customer}'s account refused the payment: {err}")
        case Credit():
            customer = decision.customer_id
            kind = "credit"
            detail = f"{decision.why}: {amount} {entry.currency} kept as a credit for customer {customer}"
            script = (
                f"{detail}.\nBank entry {reference} of {paid_on}: {tx.remittance or '(no text)'}; payer "
                f"{tx.debtor_name or '?'} {tx.debtor_iban or ''}.\nRefund it or use it on another invoice."
            )
            task_id = create_review_task(
                engine, f"bank:{entry.account}:{reference}", script,
                invoice_id=decision.invoice_id, customer_id=customer, due_on=today, kind="bank_credit",
            )  # fmt: skip
    if isinstance(decision, Review):
        kind = "review"
        candidates = ", ".join(decision.candidates) or "none"
        detail = f"{decision.why}; candidates: {candidates}"
        script = (
            f"A bank credit of {amount} {entry.currency} on {paid_on} needs a person: {decision.why}.\n"
            f"Text: {tx.remittance or '(none)'}\nPayer: {tx.debtor_name or '?'} {tx.debtor_iban or ''}\n"
            f"Candidates: {candidates}\n"
            f"Apply it with: relance task done ID --outcome paid --invoice INVOICE --amount {amount} "
            f"--reference {reference}"
        )
        first = decision.candidates[0] if decision.candidates else ""
        task_id = create_review_task(
            engine, f"bank:{entry.account}:{reference}", script, invoice_id=first, customer_id=customer or "",
            due_on=today,
        )  # fmt: skip
        allocations = []
    return _keep(engine, entry, reference, tx, amount, statement, kind, customer, allocations, detail, task_id)


async def _pay(client: Client, invoice_id: str, amount: Decimal, paid_on: date, reference: str) -> str | None:
    """None when the case has the payment (now, or from an earlier run of this import); else why not."""
    payment = PaymentReceived(amount=amount, paid_on=paid_on, reference=reference, by=BY)
    try:
        await act(client, invoice_id, payment)
    except AlreadyRecorded:
        return None  # from an earlier run of this import
    except ActionRejected as err:
        return str(err)
    except UnknownCase as err:
        return str(err)
    return None


async def _apply_return(
    client: Client,
    engine: Engine,
    entry: BankEntry,
    today: date,
    statement: str,
    task_queue: str,
    payments: list[KnownPayment],
    teach: Learned,
) -> Outcome:
    """A returned payment goes back on the payment it undoes (`match_return`: its end-to-end id, a payment
    reference or invoice named in its text, or the amount and payer); a case it had closed reopens."""
    tx = _merged(entry)
    reason = tx.return_reason or "returned"
    payer = Payer(tx.debtor_iban, tx.debtor_name)
    principal = entry.amount - tx.fee if tx.fee_included and tx.fee < entry.amount else entry.amount
    match = match_return(principal, entry.currency, tx.end_to_end_id, tx.remittance, payer, payments, teach)
    reversed_: list[list[str]] = []
    customer: str | None = None
    mandate: DebitMandate | None = None
    problem: Review | None = match if isinstance(match, Review) else None
    if isinstance(match, Reverse):
        customer = match.customer_id
        mandate = mandate_for(engine, customer, tx.mandate_id) if tx.direct_debit else None
        for n, (invoice_id, payment_ref, amount) in enumerate(match.parts):
            reversal = PaymentReversed(
                reference=payment_ref, amount=amount, reason=reason, reversed_on=entry.booking_date or today, by=BY,
                fee=tx.fee if n == 0 else Decimal(0), mandate=mandate,
            )  # fmt: skip
            try:  # a case the payment had closed as paid reopens, owing it again
                await reverse_payment(client, invoice_id, reversal, task_queue, now=datetime.now(UTC))
            except AlreadyReversed:
                pass  # from an earlier run of this import
            except (ActionRejected, UnknownCase) as err:
                problem = Review(f"{invoice_id} refused the reversal: {err}", [invoice_id])
                break
            reversed_.append([invoice_id, str(amount), payment_ref])
    task_id = None
    if problem is None:
        assert isinstance(match, Reverse)
        parts = ", ".join(f"{i} {a}" for i, a, _ in reversed_)
        kind, detail = "return", f"returned ({reason}): {parts}; {match.why}"
        if tx.direct_debit:
            named = f" {tx.mandate_id}" if tx.mandate_id else ""
            known = f"on mandate {mandate.umr}" if mandate else f"no active mandate{named} known for {customer}"
            detail += f"; a direct debit, {known}"
    else:
        candidates = ", ".join(problem.candidates) or "none"
        kind, detail = "review", f"a returned payment ({reason}): {problem.why}; candidates: {candidates}"
        script = (
            f"{detail}.\nBank entry {entry.reference} of {entry.booking_date or today}: {entry.amount} "
            f"{entry.currency}, {tx.remittance or '(no text)'}; payer {tx.debtor_name or '?'}.\n"
            f"Apply it with: relance reverse INVOICE --reference PAYMENT --amount {entry.amount} --reason {reason}"
        )
        task_id = create_review_task(
            engine, f"bank:{entry.account}:{entry.reference}", script,
            invoice_id=problem.candidates[0] if len(problem.candidates) == 1 else "", customer_id=customer or "",
            due_on=today,
        )  # fmt: skip
    kept = _keep(
        engine, entry, entry.reference, tx, entry.amount, statement, kind, customer, reversed_, detail, task_id
    )
    return replace(kept, undone=tuple((i, a, r) for i, a, r in reversed_))


def _keep(
    engine: Engine,
    entry: BankEntry,
    reference: str,
    tx: Transaction,
    amount: Decimal,
    statement: str,
    decision: str,
    customer: str | None,
    allocations: list[list[str]],
    detail: str,
    task_id: int | None,
) -> Outcome:
    """The entry (or one transaction of a batch) kept in the ledger with its decision, and what to print."""
    record_entry(
        engine,
        account=entry.account,
        reference=reference,
        statement=statement,
        booking_date=entry.booking_date,
        amount=amount,
        currency=entry.currency,
        credit=entry.credit,
        end_to_end_id=tx.end_to_end_id,
        debtor_name=tx.debtor_name,
        debtor_iban=tx.debtor_iban,
        remittance=tx.remittance,
        decision=decision,
        customer_id=customer,
        allocations=allocations,
        detail=detail,
        task_id=task_id,
        bank_reference=entry.bank_reference,
        fingerprint=entry.fingerprint,
    )
    suffix = f" (task #{task_id})" if task_id else ""
    return Outcome(reference, amount, entry.currency, decision, detail + suffix)


def _outcome(reference: str, entry: BankEntry, decision: str, detail: str, amount: Decimal | None = None) -> Outcome:
    return Outcome(reference, entry.amount if amount is None else amount, entry.currency, decision, detail)


def _taught(teach: Learned, payer: Payer, customer: str | None) -> Learned:
    """What this credit teaches the next ones of the same file."""
    if customer is None:
        return teach
    ibans = {**teach.ibans, **({normalize_iban(payer.iban): customer} if payer.iban else {})}
    names = {**teach.names, **({normalize_name(payer.name): customer} if payer.name else {})}
    return Learned(ibans=ibans, names=names)
