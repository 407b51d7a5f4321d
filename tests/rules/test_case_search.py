"""The visibility query behind `relance cases`, filter by filter (run against the dev server in test_end_to_end)."""

from datetime import date
from decimal import Decimal

import pytest

from starter.case_search import CaseFilter, visibility_query

BASE = "WorkflowType = 'InvoiceCollection' AND ExecutionStatus = 'Running'"


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (CaseFilter(), BASE),
        (CaseFilter(include_closed=True), "WorkflowType = 'InvoiceCollection'"),
        (CaseFilter(stages=("formal_notice",)), BASE + " AND CollectionStage IN ('formal_notice')"),
        (
            CaseFilter(stages=("disputed", "paused")),
            BASE + " AND CollectionStage IN ('disputed', 'paused')",
        ),
        (CaseFilter(customer_id="C-ACME"), BASE + " AND CustomerId = 'C-ACME'"),
        (CaseFilter(customer_id="O'Neil \\ Co"), BASE + " AND CustomerId = 'O\\'Neil \\\\ Co'"),
        (CaseFilter(policy="consumer"), BASE + " AND PolicyName = 'consumer'"),
        (
            CaseFilter(min_amount=Decimal("5000"), max_amount=Decimal("9999.99")),
            BASE + " AND AmountDue >= 5000 AND AmountDue <= 9999.99",
        ),
        (CaseFilter(overdue_days=0), BASE + " AND DueDate < '2026-11-26T00:00:00Z'"),
        (CaseFilter(overdue_days=30), BASE + " AND DueDate < '2026-10-27T00:00:00Z'"),
        (CaseFilter(disputed=False), BASE + " AND Disputed = false"),
        (
            CaseFilter(stages=("formal_notice",), min_amount=Decimal("5000")),
            BASE + " AND CollectionStage IN ('formal_notice') AND AmountDue >= 5000",
        ),
    ],
)
def test_visibility_query(wanted: CaseFilter, expected: str):
    assert visibility_query(wanted, date(2026, 11, 25)) == expected
