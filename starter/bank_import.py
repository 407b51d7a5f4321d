"""Applying a bank statement: each booked credit to the cases, the customer account or a person; each
returned payment back onto the case it had paid; every entry once, with its decision kept in the ledger.

A payment is sent before its entry is recorded, and a case refuses a payment reference it already has, so an
import cut short and run again applies nothing twice and loses nothing.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from relance.bank.entries import BankEntry, Statement, Transaction
from relance.domain.account import UnallocatedPayment
from relance.domain.actions import PaymentReceived, PaymentReversed
from relance.domain.remittance import (
    Credit,
    Decision,
    Learned,
    Pay,
    Payer,
    Review,
    Unallocated,
    decide,
    normalize_iban,
    normalize_name,
)
from relance.ledger.bank_ledger import create_review_task, learned, ledger_items, original_credit, record_entry, seen
from starter.ops import ActionRejected, UnknownCase, act, act_on_account, reverse_payment

BY = "bank"
SEEN = "applied by an earlier import"
PENDING = "not booked yet: left for a later file"


@dataclass(frozen=True)
class Outcome:
    reference: str
    amount: Decimal
    currency: str
    decision: str  # paid, split, unallocated, review, credit, return, pending, debit, already_seen
    detail: str


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
    for entry in statement.entries:
        if not entry.booked:
            summary.outcomes.append(
                _outcome(entry.reference, entry, "pending", "not booked yet: left for a later file")
            )
            continue
        if entry.credit:
            for reference, tx, amount in _parts(entry):
                if seen(engine, entry.account, reference):
                    summary.outcomes.append(
                        _outcome(reference, entry, "already_seen", "applied by an earlier import", amount)
                    )
                    continue
                payer = Payer(tx.debtor_iban, tx.debtor_name)
                decision = decide(amount, entry.currency, tx.remittance, payer, items, teach)
                outcome = await _apply_credit(
                    client, engine, entry, reference, tx, amount, decision, today, summary.statement
                )
                summary.outcomes.append(outcome)
                if outcome.decision in ("paid", "split", "unallocated"):
                    customer = getattr(decision, "customer_id", None)
                    teach = _taught(teach, payer, customer)
        elif entry.is_return:
            if seen(engine, entry.account, entry.reference):
                summary.outcomes.append(
                    _outcome(entry.reference, entry, "already_seen", "applied by an earlier import")
                )
                continue
            summary.outcomes.append(await _apply_return(client, engine, entry, today, summary.statement, task_queue))
        else:
            summary.outcomes.append(_outcome(entry.reference, entry, "debit", "a debit that is not a return: not ours"))
    return summary


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
                    customer,
                    UnallocatedPayment(amount=amount, paid_on=paid_on, reference=reference[:60], by=BY),
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
    except ActionRejected as err:
        if "is already recorded on this case" in str(err):
            return None
        return str(err)
    except UnknownCase as err:
        return str(err)
    return None


async def _apply_return(
    client: Client, engine: Engine, entry: BankEntry, today: date, statement: str, task_queue: str
) -> Outcome:
    """A returned payment goes back on the case(s) the original credit paid, found by its end-to-end id."""
    tx = _merged(entry)
    reason = tx.return_reason or "returned"
    original = original_credit(engine, entry.account, tx.end_to_end_id)
    reversed_: list[list[str]] = []
    problem = None if original is not None and original.allocations else "its original credit is not in the ledger"
    left = entry.amount
    for invoice_id, part, payment_ref in original.allocations if original is not None and problem is None else []:
        amount = min(Decimal(part), left)
        if amount <= 0:
            break
        reversal = PaymentReversed(
            reference=payment_ref, amount=amount, reason=reason, reversed_on=entry.booking_date or today, by=BY
        )
        try:  # a case the original credit had closed as paid reopens, owing it again
            await reverse_payment(client, invoice_id, reversal, task_queue, now=datetime.now(UTC))
        except (ActionRejected, UnknownCase) as err:
            if "is already reversed" not in str(err):
                problem = f"{invoice_id} refused the reversal: {err}"
                break
        reversed_.append([invoice_id, str(amount), payment_ref])
        left -= amount
    task_id = None
    if problem is None:
        kind, detail = "return", f"returned ({reason}): " + ", ".join(f"{i} {a}" for i, a, _ in reversed_)
    else:
        kind, detail = "review", f"a returned payment ({reason}): {problem}"
        text = tx.remittance or "(no text)"
        script = f"{detail}.\nBank entry {entry.reference}: {entry.amount} {entry.currency}, {text}."
        task_id = create_review_task(
            engine, f"bank:{entry.account}:{entry.reference}", script, invoice_id="", customer_id="", due_on=today
        )
    customer = original.customer_id if original is not None else None
    return _keep(
        engine, entry, entry.reference, tx, entry.amount, statement, kind, customer, reversed_, detail, task_id
    )


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
