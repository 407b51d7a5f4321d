"""CDAR messages (UN/CEFACT CrossDomainAcknowledgementAndResponse, French profile
`urn.cpro.gouv.fr:1p0:CDV:invoice`): the lifecycle statuses the e-invoicing platforms exchange. Read: each
referenced invoice's status, reason and note. Written: the "212 Encaissée" we owe the buyer's platform and the
administration when a payment is applied, its amount split by VAT rate. `check_cdar` applies the French CDV
rules this project can check to any CDAR, ours before they leave and the platforms' as they come in."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring
from zoneinfo import ZoneInfo

from defusedxml import ElementTree as SafeTree
from defusedxml.common import DefusedXmlException

from relance.domain.einvoicing import STATUSES

RSM = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
GUIDELINE = "urn.cpro.gouv.fr:1p0:CDV:invoice"
NS = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
for _prefix, _uri in NS.items():  # the prefixes every CDAR uses, for the messages we write
    register_namespace(_prefix, _uri)
PARIS = ZoneInfo("Europe/Paris")  # CDAR times carry no offset: the French platforms' local time
MAX_CDAR_BYTES = 2 * 1024 * 1024
SCHEMA = Path(__file__).parent / "schema" / "cdar.xsd"  # the CDV profile's structure, for check_cdar


class CdarRefused(ValueError):
    """Not a CDAR message this project reads; the message names what is wrong."""


@dataclass(frozen=True)
class PlatformStatus:
    """One status of one invoice, as a platform sent it."""

    status_id: str  # the message's id and the reference's place in it: recorded once
    message_id: str
    sent_at: datetime
    invoice: str  # the invoice's number (IssuerAssignedID)
    invoice_date: date | None
    code: str  # ProcessConditionCode: 200-213
    label: str
    reason_code: str | None
    note: str | None
    amount: Decimal | None  # MEN characteristics added up (212), or the approved amount (206)
    currency: str | None
    issuer_role: str | None  # who says it: BY buyer, SE seller, WK platform...

    @property
    def known(self) -> bool:
        return self.code in STATUSES


def _text(node: Element | None, path: str) -> str | None:
    found = node.find(path, NS) if node is not None else None
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _when(text: str | None, where: str) -> datetime:
    if text is None:
        raise CdarRefused(f"{where}: missing")
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=PARIS)
    except ValueError:
        raise CdarRefused(f"{where}: {text[:20]!r} is not a date-time of format 204 (YYYYMMDDHHMMSS)") from None


def read_cdar(data: bytes) -> list[PlatformStatus]:
    """Every status the message carries; CdarRefused when it is not a CDAR of the French profile."""
    return _read(data)[0]


def _read(data: bytes) -> tuple[list[PlatformStatus], Element]:
    """The statuses, and the parsed message (the checks read it again without parsing it twice)."""
    if len(data) > MAX_CDAR_BYTES:
        raise CdarRefused(f"the file is {len(data):,} bytes, more than {MAX_CDAR_BYTES:,}")
    try:
        root = SafeTree.fromstring(data)
    except (SafeTree.ParseError, DefusedXmlException, ValueError) as err:
        raise CdarRefused(f"not well-formed XML: {' '.join(str(err).split())[:200]}") from None
    if root.tag != f"{{{RSM}}}CrossDomainAcknowledgementAndResponse":
        raise CdarRefused(f"the root element is {root.tag[:120]}, not a CrossDomainAcknowledgementAndResponse")
    guideline = _text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
    if guideline != GUIDELINE:
        raise CdarRefused(f"GuidelineSpecifiedDocumentContextParameter/ID is {guideline!r}, not {GUIDELINE}")
    message_id = _text(root, "rsm:ExchangedDocument/ram:ID")
    if message_id is None:
        raise CdarRefused("ExchangedDocument/ID: missing")
    sent_at = _when(_text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"), "IssueDateTime")
    issuer_role = _text(root, "rsm:ExchangedDocument/ram:IssuerTradeParty/ram:RoleCode")
    references = root.findall("rsm:AcknowledgementDocument/ram:ReferenceReferencedDocument", NS)
    if not references:
        raise CdarRefused("AcknowledgementDocument/ReferenceReferencedDocument: missing (no invoice named)")
    statuses = []
    for n, ref in enumerate(references, start=1):
        where = f"ReferenceReferencedDocument[{n}]"
        invoice = _text(ref, "ram:IssuerAssignedID")
        if invoice is None:
            raise CdarRefused(f"{where}/IssuerAssignedID: missing (the invoice's number)")
        code = _text(ref, "ram:ProcessConditionCode")
        if code is None:
            raise CdarRefused(f"{where}/ProcessConditionCode: missing (the status)")
        issued = _text(ref, "ram:FormattedIssueDateTime/qdt:DateTimeString")
        blocks = ref.findall("ram:SpecifiedDocumentStatus", NS)
        reasons = [r for r in (_text(b, "ram:ReasonCode") for b in blocks) if r]
        notes = [c.text.strip() for b in blocks for c in b.findall("ram:IncludedNote/ram:Content", NS) if c.text]
        amount, currency = _amounts(blocks, where)
        statuses.append(
            PlatformStatus(
                status_id=f"{message_id}:{n}",
                message_id=message_id,
                sent_at=sent_at,
                invoice=invoice,
                invoice_date=_day(issued),
                code=code,
                label=_text(ref, "ram:ProcessCondition") or "",
                reason_code=", ".join(reasons) or None,
                note=" / ".join(dict.fromkeys(notes)) or None,
                amount=amount,
                currency=currency,
                issuer_role=issuer_role,
            )
        )
    return statuses, root


def _day(text: str | None) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date() if text else None
    except ValueError:
        return None


def _amounts(blocks: list[Element], where: str) -> tuple[Decimal | None, str | None]:
    """The amounts the statuses state (MEN: paid, MPA: approved...), added up, and their currency."""
    total, currency = None, None
    for block in blocks:
        for characteristic in block.findall("ram:SpecifiedDocumentCharacteristic", NS):
            value = characteristic.find("ram:ValueAmount", NS)
            if value is None or not value.text:
                continue
            try:
                amount = Decimal(value.text.strip())
            except InvalidOperation:
                raise CdarRefused(f"{where}: ValueAmount {value.text.strip()[:20]!r} is not an amount") from None
            total = (total or Decimal(0)) + amount
            currency = value.get("currencyID") or currency
    return total, currency


@dataclass(frozen=True)
class Party:
    siren: str
    name: str
    electronic_address: str | None  # scheme 0225


def cdar_212(
    *, message_id: str, seller: Party, buyer: Party, invoice: str, invoice_date: date, type_code: str,
    currency: str, parts: list[tuple[Decimal, Decimal]], at: datetime,
) -> bytes:  # fmt: skip
    """A "212 Encaissée" for one payment (negative parts: a payment that came back), its amount by VAT rate
    (`parts`: (rate %, amount))."""
    when = at.astimezone(PARIS).strftime("%Y%m%d%H%M%S")
    root = Element(f"{{{RSM}}}CrossDomainAcknowledgementAndResponse")
    context = SubElement(root, f"{{{RSM}}}ExchangedDocumentContext")
    _id(SubElement(context, f"{{{RAM}}}BusinessProcessSpecifiedDocumentContextParameter"), "REGULATED")
    _id(SubElement(context, f"{{{RAM}}}GuidelineSpecifiedDocumentContextParameter"), GUIDELINE)
    document = SubElement(root, f"{{{RSM}}}ExchangedDocument")
    _id(document, message_id)
    _datetime(document, "IssueDateTime", when)
    SubElement(SubElement(document, f"{{{RAM}}}SenderTradeParty"), f"{{{RAM}}}RoleCode").text = "WK"
    _party(document, "IssuerTradeParty", seller, "SE")
    _party(document, "RecipientTradeParty", buyer, "BY")
    acknowledgement = SubElement(root, f"{{{RSM}}}AcknowledgementDocument")
    multiple = SubElement(acknowledgement, f"{{{RAM}}}MultipleReferencesIndicator")
    SubElement(multiple, f"{{{UDT}}}Indicator").text = "false"
    SubElement(acknowledgement, f"{{{RAM}}}TypeCode").text = "23"
    _datetime(acknowledgement, "IssueDateTime", when)
    ref = SubElement(acknowledgement, f"{{{RAM}}}ReferenceReferencedDocument")
    SubElement(ref, f"{{{RAM}}}IssuerAssignedID").text = invoice
    SubElement(ref, f"{{{RAM}}}StatusCode").text = "47"
    SubElement(ref, f"{{{RAM}}}TypeCode").text = type_code
    formatted = SubElement(ref, f"{{{RAM}}}FormattedIssueDateTime")
    stamp = SubElement(formatted, f"{{{QDT}}}DateTimeString", format="102")
    stamp.text = invoice_date.strftime("%Y%m%d")
    SubElement(ref, f"{{{RAM}}}ProcessConditionCode").text = "212"
    SubElement(ref, f"{{{RAM}}}ProcessCondition").text = STATUSES["212"].label
    issuer = SubElement(ref, f"{{{RAM}}}IssuerTradeParty")
    SubElement(issuer, f"{{{RAM}}}GlobalID", schemeID="0002").text = seller.siren
    status = SubElement(ref, f"{{{RAM}}}SpecifiedDocumentStatus")
    SubElement(status, f"{{{RAM}}}SequenceNumeric").text = "1"
    for rate, amount in parts:
        characteristic = SubElement(status, f"{{{RAM}}}SpecifiedDocumentCharacteristic")
        SubElement(characteristic, f"{{{RAM}}}TypeCode").text = "MEN"
        SubElement(characteristic, f"{{{RAM}}}ValueAmount", currencyID=currency).text = f"{amount:.2f}"
        SubElement(characteristic, f"{{{RAM}}}ValuePercent").text = f"{rate:.2f}"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()


def _id(parent: Element, value: str) -> None:
    SubElement(parent, f"{{{RAM}}}ID").text = value


def _datetime(parent: Element, name: str, when: str) -> None:
    holder = SubElement(parent, f"{{{RAM}}}{name}")
    SubElement(holder, f"{{{UDT}}}DateTimeString", format="204").text = when


def _party(parent: Element, name: str, party: Party, role: str) -> None:
    node = SubElement(parent, f"{{{RAM}}}{name}")
    SubElement(node, f"{{{RAM}}}GlobalID", schemeID="0002").text = party.siren
    SubElement(node, f"{{{RAM}}}Name").text = party.name
    SubElement(node, f"{{{RAM}}}RoleCode").text = role
    if party.electronic_address:
        uri = SubElement(node, f"{{{RAM}}}URIUniversalCommunication")
        SubElement(uri, f"{{{RAM}}}URIID", schemeID="0225").text = party.electronic_address


@lru_cache(maxsize=1)
def _schema() -> Any:
    from lxml import etree  # loaded when a CDAR is checked: the API process needs it rarely

    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def schema_problems(data: bytes) -> list[str]:
    """Where the message breaks the CDV profile's structure (schema/cdar.xsd), with the line."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        document = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        return [f"not well-formed XML: {err}"]
    schema = _schema()
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log][:20]


def check_cdar(data: bytes) -> list[str]:
    """What breaks the CDV profile (none: the message passes): its structure against schema/cdar.xsd, then the
    French CDV rules this project can check: a known status code whose label matches it, dated times of format
    204, the parties' SIREN, and for a 212 an amount with its currency and a VAT rate on every MEN
    characteristic."""
    try:
        statuses, root = _read(data)
    except CdarRefused as err:
        return [str(err)]
    problems = schema_problems(data)
    for party in ("IssuerTradeParty", "RecipientTradeParty"):
        siren = _text(root, f"rsm:ExchangedDocument/ram:{party}/ram:GlobalID")
        if siren is not None and not (len(siren) == 9 and siren.isdigit()):
            problems.append(f"ExchangedDocument/{party}/GlobalID {siren!r}: a SIREN has 9 digits")
    refs = root.findall("rsm:AcknowledgementDocument/ram:ReferenceReferencedDocument", NS)
    for n, (status, ref) in enumerate(zip(statuses, refs, strict=True), start=1):
        where = f"ReferenceReferencedDocument[{n}]"
        if not status.known:
            problems.append(f"{where}/ProcessConditionCode {status.code!r} is not a status of the list (200-213)")
            continue
        if status.label and status.label != STATUSES[status.code].label:
            problems.append(f"{where}/ProcessCondition {status.label!r} is not {STATUSES[status.code].label!r}")
        if status.code == "212":
            men = [
                c
                for c in ref.findall("ram:SpecifiedDocumentStatus/ram:SpecifiedDocumentCharacteristic", NS)
                if _text(c, "ram:TypeCode") == "MEN"
            ]
            if not men:
                problems.append(f"{where}: a 212 states the amount collected (a MEN characteristic)")
            for m, characteristic in enumerate(men, start=1):
                value = characteristic.find("ram:ValueAmount", NS)
                if value is None or not value.get("currencyID"):
                    problems.append(f"{where} MEN[{m}]: ValueAmount with its currencyID is required")
                if _text(characteristic, "ram:ValuePercent") is None:
                    problems.append(f"{where} MEN[{m}]: ValuePercent (the VAT rate) is required")
    return problems
