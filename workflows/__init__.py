"""Workflows: the deterministic collection process (no I/O; activities do that)."""

from workflows.customer_account import CustomerAccount
from workflows.invoice_collection import InvoiceCollection, RunOptions

__all__ = ["CustomerAccount", "InvoiceCollection", "RunOptions"]
