"""ISO 20022 CAMT.053 (statement) and CAMT.054 (notification), versions .001.02 to .001.08.

Read with defusedxml (no DTD, no entity, no external reference: a "billion laughs" file is refused) and a
size limit; element names are compared without their namespace once the namespace has said which message
and version this is, since the elements this reader needs kept their names across versions (only their
nesting moved a little: `Sts/Cd` and `Dbtr/Pty/Nm` from .001.06 on).
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from relance.bank.entries import BankEntry, Statement, StatementRefused, Transaction, stable_reference

MAX_BYTES = 50 * 1024 * 1024
NAMESPACE = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:(camt\.05[34])\.001\.0([2-8])\}Document$")
CONTAINERS = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}


def parse_camt(data: bytes) -> Statement:
    if len(data) > MAX_BYTES:
        raise StatementRefused(f"the file is {len(data):,} bytes; a statement over {MAX_BYTES:,} is refused")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise StatementRefused(
            f"the XML declares a DTD or entities, which a bank statement never needs: {exc}"
        ) from None
    except ParseError as exc:
        line, column = exc.position
        raise StatementRefused(f"the XML is not well-formed (line {line}, column {column}): cut short?") from None
    match = NAMESPACE.match(root.tag)
    if match is None:
        raise StatementRefused(
            f"not a CAMT.053 or CAMT.054 document of version .001.02 to .001.08 (root element {root.tag[:120]!r})"
        )
    message, version = match.group(1), match.group(2)
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    group, item = CONTAINERS[message]
    reports = root.findall(f"{group}/{item}")
    if not reports:
        raise StatementRefused(f"the {message} document holds no {item}")
    entries: list[BankEntry] = []
    ids, account = [], ""
    for report in reports:
        account = _iban(report.find("Acct/Id/IBAN")) or _text(report, "Acct/Id/Othr/Id") or ""
        if not account:
            raise StatementRefused(f"{item} {_text(report, 'Id')!r} names no account")
        ids.append(_text(report, "Id") or "?")
        for n, entry in enumerate(report.findall("Ntry"), 1):
            entries.append(_entry(entry, account, f"{item} {ids[-1]}, entry {n}"))
    return Statement(f"{message}.001.0{version}", "+".join(ids), account, entries)


def _entry(entry: Element, account: str, where: str) -> BankEntry:
    amount, currency = _amount(entry.find("Amt"), where)
    indicator = _text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise StatementRefused(f"{where}: CdtDbtInd {indicator!r} is neither CRDT nor DBIT")
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts") or ""
    booking = _day(entry, "BookgDt", where)
    value = _day(entry, "ValDt", where)
    details = entry.findall("NtryDtls/TxDtls")
    transactions = [_transaction(tx, where) for tx in details]
    reference = _text(entry, "AcctSvcrRef") or stable_reference(
        account, booking, amount, currency, indicator, *(t.end_to_end_id for t in transactions),
        *(t.remittance for t in transactions),
    )  # fmt: skip
    return BankEntry(
        account=account,
        reference=reference,
        amount=amount,
        currency=currency,
        credit=indicator == "CRDT",
        booked=status == "BOOK",
        booking_date=booking,
        value_date=value,
        reversal=(_text(entry, "RvslInd") or "").lower() == "true",
        transactions=transactions,
    )


def _transaction(tx: Element, where: str) -> Transaction:
    amount_element = tx.find("AmtDtls/TxAmt/Amt")
    if amount_element is None:
        amount_element = tx.find("Amt")
    amount = _amount(amount_element, where)[0] if amount_element is not None else None
    lines = [(e.text or "").strip() for e in tx.findall("RmtInf/Ustrd")]
    lines += [(e.text or "").strip() for e in tx.findall("RmtInf/Strd/CdtrRefInf/Ref")]
    name = _text(tx, "RltdPties/Dbtr/Pty/Nm") or _text(tx, "RltdPties/Dbtr/Nm")
    return Transaction(
        amount=amount,
        end_to_end_id=_text(tx, "Refs/EndToEndId"),
        debtor_name=name,
        debtor_iban=_iban(tx.find("RltdPties/DbtrAcct/Id/IBAN")),
        remittance=" ".join(line for line in lines if line),
        return_reason=_text(tx, "RtrInf/Rsn/Cd"),
    )


def _amount(element: Element | None, where: str) -> tuple[Decimal, str]:
    if element is None or not (element.text or "").strip():
        raise StatementRefused(f"{where}: no amount")
    try:
        amount = Decimal(element.text.strip())  # type: ignore[union-attr]
    except InvalidOperation:
        raise StatementRefused(f"{where}: amount {element.text!r} is not a number") from None
    currency = element.get("Ccy", "")
    if not amount.is_finite() or amount < 0 or not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementRefused(f"{where}: amount {element.text} {currency!r} is not an amount in a currency")
    return amount, currency


def _day(entry: Element, path: str, where: str) -> date | None:
    text = _text(entry, f"{path}/Dt") or (_text(entry, f"{path}/DtTm") or "")[:10]
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise StatementRefused(f"{where}: {path} {text!r} is not a date") from None


def _text(element: Element, path: str) -> str | None:
    found = element.find(path)
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _iban(element: Element | None) -> str | None:
    """A valid IBAN, compact; anything else is not kept (it would teach a wrong customer)."""
    if element is None or not (element.text or "").strip():
        return None
    try:
        return IBAN(element.text.strip()).compact  # type: ignore[union-attr]
    except SchwiftyException:
        return None
