"""Whether a case's message leaves from the case itself, and what an import tells each case of its batch."""

from datetime import timedelta

import pytest

from relance.domain.account import MessageDue, every_case_in, import_gathered, speaks_alone
from relance.domain.activity_contract import step_request
from starter.importer import customer_counts, in_batch
from tests.builders import case, invoice, paris


@pytest.mark.parametrize(
    ("others", "age_minutes", "in_batch", "batch_known", "alone"),
    [
        (None, 90, None, False, True),  # opened long ago, nobody else: alone
        (0, 90, None, True, True),
        (1, 90, 1, True, False),  # its customer had another open case: the account speaks
        (0, 10, None, False, False),  # fresh, and nobody said it is the only one: the account gathers
        (0, 10, None, True, False),
        (0, 10, 1, True, True),  # fresh, its import's only invoice of its customer (v19)
        (0, 10, 1, False, False),  # the same before v19: the hour's rule
        (0, 10, 2, True, False),  # fresh, one of two of its import: the account gathers
        (0, 60, 2, True, True),  # the hour is over: its sibling opened by now, the ledger decides at send
    ],
)
def test_speaks_alone(
    others: int | None, age_minutes: int, in_batch: int | None, batch_known: bool, alone: bool
) -> None:
    opened = paris(2026, 4, 27, 8)
    now = opened + timedelta(minutes=age_minutes)
    assert speaks_alone(others, opened, now, in_batch, batch_known=batch_known) is alone


def test_a_case_is_told_its_import_count_unless_it_says_it_itself() -> None:
    cases = [invoice("A-1"), invoice("A-2"), invoice("B-1", customer={"id": "C-B"}), invoice("A-3")]
    counts = customer_counts(cases)
    assert [in_batch(c, counts).customer_invoices_in_batch for c in cases] == [3, 3, 1, 3]
    said = invoice("A-4", customer_invoices_in_batch=7)
    assert in_batch(said, counts).customer_invoices_in_batch == 7
    assert in_batch(cases[0], counts).model_dump(exclude={"customer_invoices_in_batch"}) == cases[0].model_dump(
        exclude={"customer_invoices_in_batch"}
    )  # nothing else changes


@pytest.mark.parametrize("said", [0, -1, "deux", 1.5, 1_000_001])
def test_a_batch_count_that_is_no_count_refuses_the_start_naming_the_field(said: object) -> None:
    from relance.domain.case_start import StartRefused, read_start

    raw = invoice("Z-1").model_dump(mode="json") | {"customer_invoices_in_batch": said}
    with pytest.raises(StartRefused, match="customer_invoices_in_batch"):
        read_start([raw], workflow_id="invoice-Z-1", continued=False)


@pytest.mark.parametrize(
    ("items", "gathered"),
    [
        ([("a", None)], True),  # no word of an import: nothing to wait for
        ([("a", 1)], True),
        ([("a", 3)], False),  # an import brought three of the customer's invoices: one step so far
        ([("a", 3), ("b", 3)], False),
        ([("a", 3), ("b", 3), ("c", 3)], True),
        ([("a", 2), ("a", 2)], False),  # two steps of one case are one case
        ([("a", 2), ("b", None)], True),  # another import's (or none) counts too: the message covers both
    ],
)
def test_import_gathered(items: list[tuple[str, int | None]], gathered: bool) -> None:
    request = step_request(case(), "invoice-X", "courtesy", "pre_due", paris(2026, 4, 27, 9))
    pending = [MessageDue(case_id=case, channel="email", request=request, in_batch=n) for case, n in items]
    assert import_gathered(pending) is gathered


@pytest.mark.parametrize(
    ("items", "every"),
    [
        ([], False),
        ([("a", 1, 1)], True),  # an import's only invoice, the customer's only open case
        ([("a", 3, 1)], False),  # opened first of an import of three: the others are to come
        ([("a", 3, 1), ("b", 3, 2), ("c", 3, 3)], True),
        ([("a", 2, 3), ("b", 2, 3)], False),  # a third open case (an older one) may come due with them
        ([("a", 2, 3), ("b", 2, 3), ("old", 1, 1)], True),
        ([("a", 1, None)], False),  # a case that cannot say (opened before v20): the account gathers
        ([("a", None, 1)], False),  # not told its import's count: siblings may be opening
        ([("a", 2, 1), ("a", 2, 2)], False),  # two steps of one case are one case
    ],
)
def test_every_case_in(items: list[tuple[str, int | None, int | None]], every: bool) -> None:
    request = step_request(case(), "invoice-X", "courtesy", "pre_due", paris(2026, 4, 27, 9))
    pending = [
        MessageDue(case_id=case_id, channel="email", request=request, in_batch=n, customer_cases=known)
        for case_id, n, known in items
    ]
    assert every_case_in(pending) is every
