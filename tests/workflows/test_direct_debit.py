"""Direct debits (issue: money from the bank is never lost or misread): mandates kept per customer, a returned
debit presented again once within the month when its reason allows, another means of payment asked for when it
does not, the bank's fee charged only where the contract allows, and the pain.008 file validated against the
schema. Pure rules as table tests; the whole path (statement → case → pain.008) on the time-skipping server."""

from datetime import date, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
import sepaxml
import xmlschema

from relance.bank.camt import parse_camt
from relance.bank.sepa import Creditor, Debit, SepaRefused, pain008
from relance.domain import case_view, payments, planning
from relance.domain.actions import PaymentReceived, PaymentReversed
from relance.domain.direct_debit import DebitMandate, DirectDebitRules, end_to_end_id, represent_on
from relance.ledger.db import engine_for
from relance.ledger.mandates import MandateRefused, add_mandate, list_mandates, mandate_for, revoke_mandate
from starter.bank_import import import_statement
from tests.builders import START, case, invoice, paris
from tests.conftest import Case

SCHEMA = xmlschema.XMLSchema(str(Path(sepaxml.__file__).parent / "schemas" / "pain.008.001.08.xsd"))
MANDATE = DebitMandate(umr="MANDAT-ACME-1", signed_on=date(2025, 1, 10), iban="FR7630006000011234567890189",
                       debtor_name="ACME SAS")  # fmt: skip
RULES = DirectDebitRules()


MAY = date(2026, 5, 12)


@pytest.mark.parametrize(
    ("rules", "reason", "returned_on", "today", "expected"),
    [
        (RULES, "AM04", MAY, MAY, (date(2026, 5, 17), "AM04: presented again on 2026-05-17")),
        (RULES, "MS02", MAY, MAY, (date(2026, 5, 17), "MS02: presented again on 2026-05-17")),
        (RULES, "AM04", date(2026, 5, 28), date(2026, 5, 28),
         (None, "2026-06-02 would be past the month of the return (05/2026)")),
        # learned late: no earlier than the bank can still collect it, and still within the month
        (RULES, "AM04", date(2026, 5, 2), date(2026, 5, 20),
         (date(2026, 5, 22), "AM04: presented again on 2026-05-22")),
        (RULES, "AM04", date(2026, 5, 20), date(2026, 5, 30),
         (None, "2026-06-01 would be past the month of the return (05/2026)")),
        (RULES, "AC04", MAY, MAY, (None, "AC04: account closed")),
        (RULES, "MD06", MAY, MAY, (None, "MD06: refund requested by the debtor")),
        (RULES, "ZZ99", MAY, MAY, (None, "ZZ99: a reason the policy does not present again")),
        (None, "AM04", MAY, MAY, (None, "the policy does not present returned direct debits again")),
        (DirectDebitRules(represent_after_days=None), "AM04", MAY, MAY,
         (None, "the policy does not present returned direct debits again")),
    ],
)  # fmt: skip
def test_when_a_returned_debit_is_presented_again(rules, reason, returned_on, today, expected):
    assert represent_on(rules, reason, returned_on, today) == expected


def debited(state, reference="SDD-77"):
    state.apply(PaymentReceived(amount=Decimal("1250.00"), paid_on=date(2026, 4, 20), reference=reference), START)


def returned(reason: str, *, mandate=MANDATE, fee="0", reference="SDD-77", on=date(2026, 4, 22)):
    return PaymentReversed(reference=reference, amount=Decimal("1250.00"), reason=reason, reversed_on=on,
                           fee=Decimal(fee), mandate=mandate)  # fmt: skip


def test_a_debit_returned_for_want_of_funds_is_presented_again_then_the_chase_waits_for_it():
    state = case()
    debited(state)
    now = START + timedelta(days=2)
    state.apply(returned("AM04"), now)
    assert state.representation is not None and state.representation.on == date(2026, 4, 27)
    events = [h.event for h in state.history]
    assert events.index("payment_reversed") < events.index("debit_to_represent") < events.index("escalation")
    event = planning.next_event(state, now, commit=False)
    assert (event.kind, event.at) == ("represent_debit", paris(2026, 4, 25))  # two days before collection
    payments.debit_represented(state, paris(2026, 4, 25, 9), end_to_end_id("PL-1", "SDD-77"), "file written")
    event = planning.next_event(state, paris(2026, 4, 25, 9), commit=False)
    assert (event.kind, event.at) == ("represent_settle", paris(2026, 5, 2))  # settle_days after collection
    shown = case_view.status(state, paris(2026, 4, 25, 9), event).direct_debit
    assert (shown.sent_on, shown.end_to_end_id) == (date(2026, 4, 25), "RP-PL-1-EE5C06C0FB")
    payments.representation_over(state, paris(2026, 5, 2), "no payment")
    assert planning.next_event(state, paris(2026, 5, 2), commit=False).kind == "step"  # the chase resumes
    # the new debit comes back too: never a third presentation, the debtor is asked for another means
    state.apply(PaymentReceived(amount=Decimal("1250.00"), paid_on=date(2026, 5, 4), reference="RP-1"), START)
    state.apply(returned("AM04", reference="RP-1", on=date(2026, 5, 6)), paris(2026, 5, 6))
    assert state.representation is None
    assert state.history[-2].detail == (
        "direct debit RP-1 not presented again: AM04: a debit of this invoice was already presented again once"
    )
    assert [n.template for n in state.notices] == ["direct_debit_other_means"]


@pytest.mark.parametrize(
    ("reason", "mandate", "represented", "notices"),
    [
        ("AM04", MANDATE, True, []),
        ("MD06", MANDATE, False, ["direct_debit_other_means"]),  # the debtor asked for a refund
        ("AC04", MANDATE, False, ["direct_debit_other_means"]),
        ("AM04", None, False, []),  # not known as a direct debit: an ordinary returned payment
    ],
)
def test_what_a_returned_payment_leads_to(reason, mandate, represented, notices):
    state = case()
    debited(state)
    state.apply(returned(reason, mandate=mandate), START + timedelta(days=2))
    assert (state.representation is not None, [n.template for n in state.notices]) == (represented, notices)
    assert state.escalate  # the chase resumes at the final reminder in every case, after any re-presentation


@pytest.mark.parametrize(("charge", "balance", "fees"), [(False, "1250.00", "7.50"), (True, "1257.50", "0")])
def test_the_banks_return_fee_is_charged_only_where_the_contract_allows(charge, balance, fees):
    state = case()
    assert state.policy is not None and state.policy.direct_debit is not None
    state.policy.direct_debit.charge_return_fee = charge
    debited(state)
    state.apply(returned("AM04", fee="7.50"), START + timedelta(days=2))
    assert (state.balance, state.bank_fees) == (Decimal(balance), Decimal(fees))


CREDITOR = Creditor("Relance Demo SAS", "FR7630004000031234567890143", "FR12ZZZ123456")


def test_the_pain008_validates_against_the_schema_and_carries_the_mandate():
    xml = pain008(CREDITOR, Debit(MANDATE, Decimal("1250.00"), "EUR", date(2026, 5, 17), "RP-F-1-0123456789",
                                  "Facture F-1"))  # fmt: skip
    SCHEMA.validate(xml.decode())
    document = SCHEMA.to_dict(xml.decode())
    info = document["CstmrDrctDbtInitn"]["PmtInf"][0]
    tx = info["DrctDbtTxInf"][0]
    assert (info["PmtTpInf"]["SeqTp"], info["ReqdColltnDt"], tx["InstdAmt"]) == (
        "RCUR",
        "2026-05-17",
        {"@Ccy": "EUR", "$": Decimal("1250.00")},
    )
    assert (tx["DrctDbtTx"]["MndtRltdInf"]["MndtId"], tx["PmtId"]["EndToEndId"]) == (
        "MANDAT-ACME-1",
        "RP-F-1-0123456789",
    )


@pytest.mark.parametrize(
    ("debit", "reason"),
    [
        (
            Debit(MANDATE, Decimal("10.00"), "CHF", date(2026, 5, 17), "E", "x"),
            "a SEPA direct debit is in EUR, not CHF",
        ),
        (Debit(MANDATE, Decimal("10.001"), "EUR", date(2026, 5, 17), "E", "x"), "amount 10.001 is not a positive"),
        (Debit(MANDATE, Decimal("0"), "EUR", date(2026, 5, 17), "E", "x"), "amount 0 is not a positive"),
    ],
)
def test_a_debit_the_bank_would_refuse_is_not_written(debit, reason):
    with pytest.raises(SepaRefused, match=reason):
        pain008(CREDITOR, debit)


def test_mandates_are_checked_kept_per_customer_and_revoked(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'ledger.db'}")
    keep = {"customer_id": "C-ACME", "signed_on": date(2025, 1, 10), "iban": "FR76 3000 6000 0112 3456 7890 189",
            "debtor_name": "ACME SAS", "today": date(2026, 5, 1)}  # fmt: skip
    for change, reason in [
        ({"umr": "MANDAT_ACME"}, "umr 'MANDAT_ACME': 1 to 35 characters of the SEPA set"),
        ({"umr": "M-1", "iban": "FR7630006000011234567890180"}, "iban 'FR7630006000011234567890180' is not a valid"),
        ({"umr": "M-1", "signed_on": date(2026, 6, 1)}, "signed_on 2026-06-01 is in the future (today is 2026-05-01)"),
        ({"umr": "M-1", "bic": "NOTABIC"}, "bic 'NOTABIC' is not a valid BIC"),
    ]:
        with pytest.raises(MandateRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
            add_mandate(engine, **{**keep, **change})
    add_mandate(engine, **keep, umr="MANDAT-ACME-1")
    with pytest.raises(MandateRefused, match="umr 'MANDAT-ACME-1' is already kept"):
        add_mandate(engine, **keep, umr="MANDAT-ACME-1")
    assert mandate_for(engine, "C-ACME", None) == DebitMandate(
        umr="MANDAT-ACME-1", signed_on=date(2025, 1, 10), iban="FR7630006000011234567890189", debtor_name="ACME SAS"
    )
    assert mandate_for(engine, "C-ACME", "OTHER") is None  # named, but not one of this customer's
    assert mandate_for(engine, "C-OTHER", "MANDAT-ACME-1") is None
    add_mandate(engine, **keep, umr="MANDAT-ACME-2")
    assert mandate_for(engine, "C-ACME", None) is None  # two active: the return must name one
    assert mandate_for(engine, "C-ACME", "MANDAT-ACME-2").umr == "MANDAT-ACME-2"
    assert revoke_mandate(engine, "MANDAT-ACME-2") and not revoke_mandate(engine, "MANDAT-ACME-2")
    assert [m.umr for m in list_mandates(engine, "C-ACME")] == ["MANDAT-ACME-1", "MANDAT-ACME-2"]
    assert mandate_for(engine, "C-ACME", None).umr == "MANDAT-ACME-1"


@pytest.fixture
def settings(settings, tmp_path):
    """The worker can write direct debit files: a creditor identifier and account, and a folder for them."""
    return settings.model_copy(update={"sepa_creditor_id": "FR12ZZZ123456", "sepa_dir": tmp_path / "sepa",
                                       "creditor_iban": "FR7630004000031234567890143"})  # fmt: skip


RETURN = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>
<GrpHdr><MsgId>N-1</MsgId><CreDtTm>2026-05-12T20:00:00</CreDtTm></GrpHdr>
<Ntfctn><Id>N-1</Id><Acct><Id><IBAN>FR7630004000031234567890143</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">1257.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2026-05-12</Dt></BookgDt><AcctSvcrRef>RET-1</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd><SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><TxDtls><Refs><EndToEndId>SDD-77</EndToEndId><MndtId>MANDAT-ACME-1</MndtId></Refs>
<Amt Ccy="EUR">1257.50</Amt><Chrgs><Rcrd><Amt Ccy="EUR">7.50</Amt><ChrgInclInd>true</ChrgInclInd></Rcrd></Chrgs>
<RmtInf><Ustrd>IMPAYE PRLV DD-1</Ustrd></RmtInf><RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf></TxDtls></NtryDtls>
</Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"""


@pytest.mark.parametrize("reason", ["AM04", "MD06"])
async def test_a_returned_direct_debit_from_the_statement_to_the_bank_file(env, open_case, worker, reason):
    engine = engine_for(worker.database_url)
    add_mandate(engine, customer_id="C-ACME", umr="MANDAT-ACME-1", signed_on=date(2025, 1, 10),
                iban="FR7630006000011234567890189", debtor_name="ACME SAS", today=date(2026, 5, 1))  # fmt: skip
    opened = await open_case(invoice("DD-1", amount="1250.00", starts_at=START))  # customer C-ACME
    await opened.update("payment_received", {"amount": "1250.00", "paid_on": "2026-04-20", "reference": "SDD-77"})
    await opened.advance_to(paris(2026, 5, 12, 12))
    summary = await import_statement(env.client, engine, parse_camt(RETURN.replace("{reason}", reason).encode()),
                                     today=date(2026, 5, 12), task_queue=worker.task_queue)  # fmt: skip
    (outcome,) = summary.outcomes
    assert outcome.detail == (
        f"returned ({reason}): DD-1 1250.00; the only payment of 1250.00 on DD-1, named in the text; a direct debit, "
        "on mandate MANDAT-ACME-1"
    )
    handle = env.client.get_workflow_handle("invoice-DD-1")  # the run the return reopened
    reopened = Case(env, handle)
    status = await reopened.status()
    assert (status.state, status.balance) == ("open", Decimal("1250.00"))  # the fee was inside the entry
    (back,) = [h for h in status.history if h.event == "payment_reversed"]
    assert back.detail == f"payment SDD-77 of 1250.00 EUR came back ({reason}); bank fee 7.50 EUR recorded apart"
    sepa: Path = worker.sepa_dir
    if reason == "MD06":  # no new debit: the chase resumes and the debtor is asked for another means
        status = await reopened.advance_to(paris(2026, 5, 12, 12, 30))
        assert status.direct_debit is None
        (informed,) = [h for h in status.history if h.event == "debtor_informed"]
        assert informed.detail.startswith("other-means-0-2026-05-12: ")
        mail = message_from_bytes(
            (worker.outbox_dir / "invoice-DD-1_other-means-0-2026-05-12.eml").read_bytes(), policy=default
        )
        assert mail["Subject"] == "Facture DD-1 : votre prélèvement a été rejeté"
        assert not sepa.exists()
        await handle.terminate(reason="test finished")
        return
    assert (status.direct_debit.on, status.direct_debit.sent_on) == (date(2026, 5, 17), None)
    status = await reopened.advance_to(paris(2026, 5, 15, 12))
    assert status.direct_debit.sent_on == date(2026, 5, 15)
    (written,) = sepa.glob("*.xml")
    SCHEMA.validate(written.read_text())
    tx = SCHEMA.to_dict(written.read_text())["CstmrDrctDbtInitn"]["PmtInf"][0]["DrctDbtTxInf"][0]
    assert (tx["InstdAmt"]["$"], tx["DrctDbtTx"]["MndtRltdInf"]["MndtId"], tx["PmtId"]["EndToEndId"]) == (
        Decimal("1250.00"), "MANDAT-ACME-1", end_to_end_id("DD-1", "SDD-77"),
    )  # fmt: skip
    status = await reopened.advance_to(paris(2026, 5, 22, 12))  # no payment came: the chase resumes
    assert status.direct_debit is None
    assert [h.event for h in status.history if h.event.startswith("debit_")] == [
        "debit_to_represent", "debit_represented", "debit_representation_over",
    ]  # fmt: skip
    assert len(list(sepa.glob("*.xml"))) == 1  # once
    await handle.terminate(reason="test finished")
