"""Refusals carry a type, never matched by their text (issue 34, item 3): the case's class of refusal reaches
the caller as an exception of its own, through an update's failure type or a closed workflow."""

import pytest

from relance.domain.actions import PaymentReceived, PaymentReversed
from starter.ops import ActionRejected, AlreadyRecorded, AlreadyReversed, CaseClosed, act
from tests.builders import invoice, paris

START = paris(2026, 4, 20, 8)


async def test_each_refusal_a_caller_acts_on_has_its_type(env, open_case):
    await open_case(invoice("TYPED-1", starts_at=START))
    part = PaymentReceived(amount="100.00", paid_on="2026-04-20", reference="P1")
    await act(env.client, "TYPED-1", part)
    with pytest.raises(AlreadyRecorded, match="payment reference 'P1' is already recorded on this case"):
        await act(env.client, "TYPED-1", part)
    back = PaymentReversed(reference="P1", amount="100.00", reason="AM04", reversed_on="2026-04-20")
    await act(env.client, "TYPED-1", back)
    with pytest.raises(AlreadyReversed, match="payment 'P1' is already reversed"):
        await act(env.client, "TYPED-1", back)
    with pytest.raises(ActionRejected) as other:  # any other refusal is the general type
        await act(env.client, "TYPED-1", PaymentReceived(amount="1.00", paid_on="2099-01-01", reference="P2"))
    assert type(other.value) is ActionRejected
    await act(env.client, "TYPED-1", PaymentReceived(amount="1250.00", paid_on="2026-04-20", reference="P3"))
    with pytest.raises(CaseClosed):  # paid in full: closed, whether the workflow is still ending or has ended
        await act(env.client, "TYPED-1", PaymentReceived(amount="1.00", paid_on="2026-04-20", reference="P4"))
