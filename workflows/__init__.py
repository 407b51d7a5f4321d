"""Workflows: the deterministic collection process (no I/O; activities do that)."""

from relance.domain.case_start import RunOptions
from workflows.bank_watch import BankWatch
from workflows.customer_account import CustomerAccount
from workflows.debtor_notice import DebtorNoticeWorkflow
from workflows.invoice_collection import InvoiceCollection

__all__ = ["BankWatch", "CustomerAccount", "DebtorNoticeWorkflow", "InvoiceCollection", "RunOptions"]
