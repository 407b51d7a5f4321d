"""Workflows: the deterministic collection process (no I/O; activities do that)."""

from workflows.invoice_collection import InvoiceCollection, RunOptions

__all__ = ["InvoiceCollection", "RunOptions"]
