"""Builders every test module may use (none imports another test module): invoices and case states, dates
in Paris, bank statements in CAMT.053, the ECB's recorded answer and the rates command."""

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from relance.domain.case import CaseState
from relance.domain.clock import CaseClock
from relance.domain.invoice import CaseInput
from relance.domain.policy import load_policies
from relance.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")


def paris(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


def minute(at: datetime) -> datetime:
    """Case times to the minute, in Paris: steps fire a few real milliseconds after their instant."""
    return at.astimezone(PARIS).replace(second=0, microsecond=0)


def invoice(
    invoice_id: str | None = None,
    *,
    due: date = date(2026, 4, 30),
    issued: date | None = None,
    amount: str = "1250.00",
    kind: str = "business",
    starts_at: datetime | None = None,
    **extra: Any,
) -> CaseInput:
    """A case whose clock starts at `starts_at` (case time), so dates in tests are exact."""
    data: dict[str, Any] = {
        "invoice_id": invoice_id or f"F-{uuid.uuid4().hex[:8]}",
        "customer": {
            "id": "C-ACME",
            "name": "ACME SAS",
            "kind": kind,
            "email": "compta@acme.example",
            "language": "fr",
            "address": {"line1": "1 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"},
        },
        "amount": amount,
        "currency": "EUR",
        "issue_date": (issued or due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
    }
    if starts_at is not None:
        data["clock"] = {"starts_at": starts_at.isoformat()}
    for key, value in extra.items():
        if key == "customer":
            data["customer"].update(value)
        else:
            data[key] = value
    return CaseInput.model_validate(data)


# ---- case states for the pure rules (b2b-standard, due Thursday 30 April 2026) ----------------------------

POLICIES = load_policies(ROOT / "policies", Settings().template_dir)
START = paris(2026, 4, 20, 8)


def case(due: date = date(2026, 4, 30), **extra: object) -> CaseState:
    data = invoice("PL-1", due=due, **extra)  # type: ignore[arg-type]
    state = CaseState.open(data, CaseClock.anchor(START, None), START)
    state.policy = POLICIES["b2b-standard"].for_case(data.due_date)
    state.policy.legal.warn_days_before_limitation = None  # rows about limitation set it themselves
    return state


def at_step(step_id: str) -> Callable[[CaseState], None]:
    def move(state: CaseState) -> None:
        assert state.policy is not None
        state.cursor = state.policy.step_index(step_id)

    return move


# ---- bank statements -------------------------------------------------------------------------------------

OURS = "FR7630004000031234567890143"
ACME = "FR7630006000011234567890189"


def camt(*entries: str, statement_id: str = "S-1") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>2026-05-12T20:00:00</CreDtTm></GrpHdr>
<Stmt><Id>{statement_id}</Id><Acct><Id><IBAN>{OURS}</IBAN></Id></Acct>{"".join(entries)}</Stmt>
</BkToCstmrStmt></Document>""".encode()


def entry(ref: str, amount: str, text: str, e2e: str, *, name: str = "ACME SAS", iban: str | None = ACME,
          debit: str | None = None) -> str:  # fmt: skip
    account = f"<DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct>" if iban else ""
    returned = f"<RtrInf><Rsn><Cd>{debit}</Cd></Rsn></RtrInf>" if debit else ""
    return f"""<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{"DBIT" if debit else "CRDT"}</CdtDbtInd>
{"<RvslInd>true</RvslInd>" if debit else ""}<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-05-12</Dt></BookgDt>
<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>
<Amt Ccy="EUR">{amount}</Amt><RltdPties><Dbtr><Pty><Nm>{name}</Nm></Pty></Dbtr>{account}</RltdPties>
<RmtInf><Ustrd>{text}</Ustrd></RmtInf>{returned}</TxDtls></NtryDtls></Ntry>"""


# ---- the ECB and the rates command ----------------------------------------------------------------------

RECORDED = (ROOT / "tests" / "fixtures" / "ecb" / "mro_csvdata.csv").read_bytes().decode("utf-8")  # CRLF kept


def rates(path: Path, ecb_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RELANCE_RATES_FILE": str(path), "RELANCE_ECB_API_URL": ecb_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "relance.cli.main", "rates", *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---- e-invoices and the platforms' statuses: our own, made with the factur-x package from EN 16931 terms ----

BUYER_SIREN = "900000001"  # synthetic, with a valid check digit
SELLER_SIREN = "100000009"


def einvoice_terms(
    number: str, *, total: str = "1155.00", issued: date = date(2026, 10, 1), due: date | None = date(2026, 10, 31),
    type_code: str = "380", corrects: str | None = None, email: str | None = "compta@boulangerie-martin.example",
    terms: str = "30 jours nets",
) -> dict[str, Any]:  # fmt: skip
    """An invoice of ours to Boulangerie Martin SAS, two VAT rates (20 % and 5.5 %) in the proportions 6:4 of
    its total, as the factur-x package takes it (business terms)."""
    from decimal import Decimal

    whole = Decimal(total)
    high = (whole * Decimal("0.6")).quantize(Decimal("0.01"))
    low = whole - high
    lines = [(Decimal("20.00"), high), (Decimal("5.50"), low)]
    vat = []
    for rate, gross in lines:
        base = (gross / (1 + rate / 100)).quantize(Decimal("0.01"))
        vat.append({"BT-116": f"{base}", "BT-117": f"{gross - base}", "BT-118": "S", "BT-119": f"{rate}"})
    net = sum(Decimal(v["BT-116"]) for v in vat)
    contacts = [{"name": "Comptabilité", "email": email, "phone": "+33 4 72 00 00 00"}] if email else []
    data: dict[str, Any] = {
        "BT-1": number, "BT-2": issued, "BT-3": type_code, "BT-5": "EUR", "BT-20": terms,
        "BT-24": "urn:cen.eu:en16931:2017", "BT-72": issued, "BT-84": OURS, "BT-81": "58",
        "BG-4": {"name": "Relance Demo SAS", "legal_identifier": SELLER_SIREN, "legal_identifier_schemeid": "0002",
                 "vat_identifier": "FR10100000009", "country_code": "FR", "city": "Paris", "postcode": "75001",
                 "addr_l1": "10 rue de l'Exemple", "einvoicing_addr": f"{SELLER_SIREN}_RELANCE",
                 "einvoicing_addr_schemeid": "0225"},
        "BG-7": {"name": "Boulangerie Martin SAS", "legal_identifier": BUYER_SIREN, "legal_identifier_schemeid": "0002",
                 "vat_identifier": "FR83900000001", "country_code": "FR", "city": "Lyon", "postcode": "69002",
                 "addr_l1": "8 quai Saint-Antoine", "einvoicing_addr": f"{BUYER_SIREN}_FACTURES",
                 "einvoicing_addr_schemeid": "0225", "contacts": contacts},
        "BT-106": f"{net}", "BT-109": f"{net}", "BT-110": f"{whole - net}", "BT-112": f"{whole}",
        "BT-115": f"{whole}", "BG-23": vat,
        "BG-25": [
            {"BT-126": str(n), "BT-129": "1", "BT-130": "C62", "BT-131": v["BT-116"], "BT-146": v["BT-116"],
             "BT-151": "S", "BT-152": v["BT-119"], "BT-153": f"Livraison {n}"}
            for n, v in enumerate(vat, start=1)
        ],
    }  # fmt: skip
    if due is not None:
        data["BT-9"] = due
    if corrects is not None:
        data["BG-3"] = [{"BT-25": corrects, "BT-26": issued}]
    return data


def cii_xml(terms: dict[str, Any]) -> bytes:
    import facturx

    return bytes(facturx.generate_cii_xml(terms, check_schematron=False))


def ubl_xml(terms: dict[str, Any]) -> bytes:
    import facturx

    return bytes(facturx.generate_ubl_xml(terms, check_schematron=False))


def facturx_pdf(terms: dict[str, Any]) -> bytes:
    """A one-page PDF (fpdf2) with the invoice's CII embedded, as a Factur-X."""
    import facturx
    from fpdf import FPDF

    page = FPDF()
    page.add_page()
    page.set_font("helvetica", size=14)
    page.cell(text=f"Facture {terms['BT-1']} - Relance Demo SAS")
    return bytes(facturx.generate_from_binary(bytes(page.output()), cii_xml(terms), check_xsd=True))


CDAR_NAMESPACES = " ".join(
    f'xmlns:{prefix}="urn:un:unece:uncefact:data:standard:{name}:100"'
    for prefix, name in (
        ("rsm", "CrossDomainAcknowledgementAndResponse"),
        ("ram", "ReusableAggregateBusinessInformationEntity"),
        ("qdt", "QualifiedDataType"),
        ("udt", "UnqualifiedDataType"),
    )
)


def cdar(
    message_id: str, invoice_id: str, code: str, label: str, *, reason_code: str | None = None,
    note: str | None = None, amount: str | None = None, sent: str = "20261201101500", role: str = "BY",
) -> bytes:  # fmt: skip
    """A status as the buyer's platform sends it (CDAR, the French CDV profile)."""
    reason = f"<ram:ReasonCode>{reason_code}</ram:ReasonCode>" if reason_code else ""
    said = f"<ram:IncludedNote><ram:Content>{note}</ram:Content></ram:IncludedNote>" if note else ""
    money = (
        "<ram:SpecifiedDocumentCharacteristic><ram:TypeCode>MPA</ram:TypeCode>"
        f'<ram:ValueAmount currencyID="EUR">{amount}</ram:ValueAmount></ram:SpecifiedDocumentCharacteristic>'
        if amount else ""
    )  # fmt: skip
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossDomainAcknowledgementAndResponse {CDAR_NAMESPACES}>
 <rsm:ExchangedDocumentContext>
  <ram:BusinessProcessSpecifiedDocumentContextParameter><ram:ID>REGULATED</ram:ID></ram:BusinessProcessSpecifiedDocumentContextParameter>
  <ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn.cpro.gouv.fr:1p0:CDV:invoice</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
 </rsm:ExchangedDocumentContext>
 <rsm:ExchangedDocument>
  <ram:ID>{message_id}</ram:ID>
  <ram:IssueDateTime><udt:DateTimeString format="204">{sent}</udt:DateTimeString></ram:IssueDateTime>
  <ram:IssuerTradeParty><ram:GlobalID schemeID="0002">{BUYER_SIREN}</ram:GlobalID>
   <ram:Name>Boulangerie Martin SAS</ram:Name><ram:RoleCode>{role}</ram:RoleCode></ram:IssuerTradeParty>
  <ram:RecipientTradeParty><ram:GlobalID schemeID="0002">{SELLER_SIREN}</ram:GlobalID>
   <ram:Name>Relance Demo SAS</ram:Name><ram:RoleCode>SE</ram:RoleCode></ram:RecipientTradeParty>
 </rsm:ExchangedDocument>
 <rsm:AcknowledgementDocument>
  <ram:MultipleReferencesIndicator><udt:Indicator>false</udt:Indicator></ram:MultipleReferencesIndicator>
  <ram:TypeCode>23</ram:TypeCode>
  <ram:IssueDateTime><udt:DateTimeString format="204">{sent}</udt:DateTimeString></ram:IssueDateTime>
  <ram:ReferenceReferencedDocument>
   <ram:IssuerAssignedID>{invoice_id}</ram:IssuerAssignedID>
   <ram:TypeCode>380</ram:TypeCode>
   <ram:ProcessConditionCode>{code}</ram:ProcessConditionCode>
   <ram:ProcessCondition>{label}</ram:ProcessCondition>
   <ram:SpecifiedDocumentStatus>{reason}<ram:SequenceNumeric>1</ram:SequenceNumeric>{said}{money}</ram:SpecifiedDocumentStatus>
  </ram:ReferenceReferencedDocument>
 </rsm:AcknowledgementDocument>
</rsm:CrossDomainAcknowledgementAndResponse>
""".encode()
