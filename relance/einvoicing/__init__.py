"""E-invoices and the French platforms lifecycle statuses, read and written (see relance/einvoicing/*)."""
