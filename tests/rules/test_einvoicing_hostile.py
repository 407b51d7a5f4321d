"""Hostile e-invoices and CDAR (issue "French e-invoicing", with the fuzz suite's rule): whatever bytes come, the
readers answer with the document or a refusal naming what is wrong (EInvoiceRefused, CdarRefused), never
another exception, and the CDV check always answers with a list."""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.einvoicing.cdar import CdarRefused, check_cdar, read_cdar
from relance.einvoicing.invoices import EInvoiceRefused, read_einvoice
from tests.builders import cdar, cii_xml, einvoice_terms, ubl_xml

hostile = settings(
    max_examples=150, deadline=None, derandomize=bool(os.environ.get("CI")), database=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
CDAR = cdar("PA-1", "FA-1", "210", "Refusée", reason_code="TX_TVA_ERR", note="taux")
CII = cii_xml(einvoice_terms("FA-H"))
UBL = ubl_xml(einvoice_terms("FA-H"))


@st.composite
def mangled(draw: st.DrawFn, document: bytes) -> bytes:
    """The document with a slice cut out, replaced by other bytes, or with its text values changed."""
    start = draw(st.integers(0, len(document)))
    end = draw(st.integers(start, min(len(document), start + 200)))
    filler = draw(st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode)))
    return document[:start] + filler + document[end:]


@hostile
@given(data=st.one_of(st.binary(max_size=400), mangled(CDAR)))
def test_any_cdar_is_read_or_refused_with_why(data: bytes) -> None:
    try:
        statuses = read_cdar(data)
    except CdarRefused as err:
        assert str(err)
    else:
        assert all(s.status_id and s.invoice and s.code for s in statuses)
    assert isinstance(check_cdar(data), list)


@hostile
@given(data=st.one_of(st.binary(max_size=400), mangled(CII), mangled(UBL)))
def test_any_e_invoice_is_read_or_refused_with_why(data: bytes) -> None:
    try:
        invoice, _ = read_einvoice(data)
    except EInvoiceRefused as err:
        assert str(err)
    else:
        assert invoice.number and invoice.currency
        try:
            invoice.case_fields()
        except EInvoiceRefused as err:
            assert str(err)


def test_payment_terms_past_the_calendar_are_refused_by_name() -> None:
    from datetime import date

    import pytest

    terms = einvoice_terms("FA-END", issued=date(9999, 12, 20), due=None, terms="30 jours fin de mois")
    with pytest.raises(EInvoiceRefused, match=r"BT-20 \(payment terms\) '30 jours fin de mois' reach past"):
        read_einvoice(cii_xml(terms))
