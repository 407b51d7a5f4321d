"""Bad ops input is refused with a clear reason and changes nothing; bad signals are recorded."""

from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError

from relance.domain.actions import PaymentReceived
from starter.ops import ActionRejected, UnknownCase, act, status
from tests.builders import invoice, paris

START = paris(2026, 4, 20, 8)

REJECTED_UPDATES = [
    (
        "payment_received",
        {"amount": "-5", "paid_on": "2026-04-20", "reference": "N1"},
        "amount: must be greater than 0, got -5",
    ),
    (
        "payment_received",
        {"amount": "10.005", "paid_on": "2026-04-20", "reference": "N2"},
        "payment amount 10.005 has more than 2 decimals for EUR",
    ),
    (
        "payment_received",
        {"amount": "10", "paid_on": "2026-05-01", "reference": "N3"},
        "paid_on 2026-05-01 is in the future (today is 2026-04-20)",
    ),
    ("payment_received", {"amount": "10", "paid_on": "2026-04-20"}, "reference"),
    (
        "payment_received",
        {"amount": "10", "paid_on": "2026-04-20", "reference": "R", "currency": "USD"},
        "Extra inputs are not permitted",
    ),
    ("dispute_resolved", {"outcome": "rejected"}, "no dispute is open on this case"),
    ("dispute_resolved", {"outcome": "partially_accepted"}, "credited_amount is required"),
    ("promise_to_pay", {"promised_on": "2026-04-01"}, "promised_on 2026-04-01 is in the past (today is 2026-04-20)"),
    (
        "promise_to_pay",
        {"promised_on": "2026-05-01", "amount": "5000"},
        "promised amount 5000 is above the balance 1250.00",
    ),
    (
        "payment_plan_agreed",
        {"installments": [{"due_on": "2026-05-15", "amount": "600"}]},
        "installments add up to 600, the balance is 1250.00",
    ),
    (
        "payment_plan_agreed",
        {"installments": [{"due_on": "2026-06-15", "amount": "600"}, {"due_on": "2026-05-15", "amount": "650"}]},
        "installment 2 (2026-05-15) must fall after installment 1",
    ),
    ("payment_plan_agreed", {"installments": []}, "installments"),
    ("pause", {"reason": "x", "until": "2026-04-20"}, "until 2026-04-20 must be after today (2026-04-20)"),
    ("resume", {}, "the case is not paused"),
    ("write_off", {"reason": ""}, "reason"),
    ("contact_updated", {}, "give at least one of email, address, phone"),
    ("contact_updated", {"email": "not-an-address"}, "email"),
]


@pytest.mark.parametrize(
    ("name", "payload", "reason"), REJECTED_UPDATES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(REJECTED_UPDATES)]
)
async def test_invalid_update_is_rejected_and_changes_nothing(open_case, name, payload, reason):
    case = await open_case(invoice(starts_at=START))
    before = await case.status()
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await case.update(name, payload)
    assert reason in str(err.value.cause)
    after = await case.status()
    assert (after.balance, after.state, after.history) == (before.balance, before.state, before.history)


async def test_duplicate_payment_reference_is_refused(open_case):
    case = await open_case(invoice(starts_at=START))
    await case.update("payment_received", {"amount": "100", "paid_on": "2026-04-20", "reference": "VIR-9"})
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await case.update("payment_received", {"amount": "100", "paid_on": "2026-04-20", "reference": "VIR-9"})
    assert "payment reference 'VIR-9' is already recorded on this case" in str(err.value.cause)
    assert (await case.status()).balance == Decimal("1150.00")


async def test_invalid_signal_is_recorded_as_rejected_and_the_case_goes_on(open_case, env):
    case = await open_case(invoice(starts_at=START))
    await case.handle.signal("payment_received", {"amount": "-3", "paid_on": "2026-04-20", "reference": "S1"})
    await case.handle.signal("payment_received", {"amount": "abc"})
    await case.handle.signal("dispute_resolved", {"outcome": "rejected"})
    await case.handle.signal("payment_received", {"amount": "200", "paid_on": "2026-04-20", "reference": "S2"})
    status = await case.status()
    rejected = [h.detail for h in status.history if h.event == "rejected"]
    assert rejected[0] == "payment_received rejected: amount: must be greater than 0, got -3"
    assert rejected[1].startswith("payment_received rejected: amount: 'abc' is not an amount")
    assert "paid_on: Field required" in rejected[1] and "reference: Field required" in rejected[1]
    assert rejected[2] == "dispute_resolved rejected: no dispute is open on this case"
    assert status.balance == Decimal("1050.00")
    assert status.state == "open"


async def test_signals_change_the_case_like_updates(open_case):
    case = await open_case(invoice(starts_at=START))
    await case.handle.signal("dispute_opened", {"reason": "price disagreement", "by": "erp"})
    status = await case.status()
    assert (status.stage, status.history[-1].by) == ("disputed", "erp")


async def test_unknown_case_and_closed_case_have_clear_errors(open_case, env):
    with pytest.raises(UnknownCase, match="no case for invoice NOPE-1"):
        await status(env.client, "NOPE-1")
    with pytest.raises(UnknownCase, match="no case for invoice NOPE-1"):
        await act(env.client, "NOPE-1", PaymentReceived(amount=Decimal(1), paid_on=START.date(), reference="x"))
    case = await open_case(invoice("CLOSED-1", starts_at=START))
    await case.update("write_off", {"reason": "too small"})
    await env.sleep(1)
    with pytest.raises(ActionRejected, match="case CLOSED-1 is closed"):
        await act(env.client, "CLOSED-1", PaymentReceived(amount=Decimal(1), paid_on=START.date(), reference="y"))
    assert (await status(env.client, "CLOSED-1")).outcome == "written_off"
