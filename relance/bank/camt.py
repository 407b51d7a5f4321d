"""ISO 20022 CAMT.053 (statement) and CAMT.054 (notification), versions .001.02 to .001.10.

Read with defusedxml (no DTD, no entity, no external reference: a "billion laughs" file is refused) and a
size limit; element names are compared without their namespace once the namespace has said which message
and version this is, since the elements this reader needs kept their names across versions (only their
nesting moved a little: `Sts/Cd` and `Dbtr/Pty/Nm` from .001.06 on).

An entry's key is the bank's reference (`AcctSvcrRef`) with its booking date: banks reuse a reference for
another movement on another day (PostFinance does), and the CAMT.053 and CAMT.054 of one movement share both.
An entry without `Sts` is booked when the bank says when (`BookgDt`) or the file is a statement. A credit
that reverses one of our debits or returns one of our transfers is marked so (`comes_back_to_us`): it is not
a customer paying.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from relance.bank.entries import (
    BankEntry,
    Statement,
    StatementRefused,
    Transaction,
    distinct_keys,
    provided,
    stable_reference,
)

MAX_BYTES = 50 * 1024 * 1024
NAMESPACE = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:(camt\.05[34])\.001\.(0[2-9]|10)\}Document$")
DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")  # xs:date, with an optional timezone
CONTAINERS = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}


def parse_camt(data: bytes, *, account: str | None = None) -> Statement:
    """`account`: for a file that names none (some banks' notifications); a file that names one keeps it."""
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
            f"not a CAMT.053 or CAMT.054 document of version .001.02 to .001.10 (root element {root.tag[:120]!r})"
        )
    message, version = match.group(1), match.group(2)
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    group, item = CONTAINERS[message]
    reports = root.findall(f"{group}/{item}")
    if not reports:
        raise StatementRefused(f"the {message} document holds no {item}")
    entries: list[BankEntry] = []
    ids, accounts = [], []
    for report in reports:
        ids.append(_text(report, "Id") or "?")
        accounts.append(_account(report, f"{item} {ids[-1]}", account))
        for n, entry in enumerate(report.findall("Ntry"), 1):
            entries.append(_entry(entry, accounts[-1], f"{item} {ids[-1]}, entry {n}", statement=message == "camt.053"))
    return Statement(f"{message}.001.{version}", "+".join(ids), accounts[0], distinct_keys(entries))


def _account(report: Element, where: str, given: str | None) -> str:
    """Our account: a valid IBAN, or the bank's other identifier; a masked or broken IBAN is refused."""
    iban = _text(report, "Acct/Id/IBAN")
    if iban is not None:
        valid = _iban(report.find("Acct/Id/IBAN"))
        if valid is None:
            raise StatementRefused(f"{where}: the account IBAN {iban!r} is not a valid IBAN (masked?)")
        return valid
    other = _text(report, "Acct/Id/Othr/Id")
    if other is not None:
        return other
    if given:
        return given
    raise StatementRefused(f"{where} names no account; give the account it is for (--account)")


def _entry(entry: Element, account: str, where: str, *, statement: bool) -> BankEntry:
    amount, currency = _amount(entry.find("Amt"), where)
    indicator = _text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise StatementRefused(f"{where}: CdtDbtInd {indicator!r} is neither CRDT nor DBIT")
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts/Prtry") or _text(entry, "Sts")
    booking = _day(entry, "BookgDt", where)
    value = _day(entry, "ValDt", where)
    booked = status == "BOOK" if status is not None else (statement or booking is not None)
    details = entry.findall("NtryDtls/TxDtls")
    debit_code = _direct_debit_code(entry)
    transactions = [_transaction(tx, where, debit_code) for tx in details]
    legacy = _text(entry, "AcctSvcrRef") or stable_reference(
        account, booking, amount, currency, indicator, *(t.end_to_end_id for t in transactions),
        *(t.remittance for t in transactions),
    )  # fmt: skip
    bank_reference = provided(_text(entry, "AcctSvcrRef"))
    day = booking or value
    if bank_reference is None:
        key = stable_reference(
            account, day, amount, currency, indicator, *(t.end_to_end_id for t in transactions),
            *(t.remittance for t in transactions),
        )  # fmt: skip
    else:
        key = f"{bank_reference}@{day.isoformat()}" if day else bank_reference
    return BankEntry(
        account=account,
        reference=key,
        bank_reference=bank_reference,
        aliases=(legacy,),
        amount=amount,
        currency=currency,
        credit=indicator == "CRDT",
        booked=booked,
        booking_date=booking,
        value_date=value,
        reversal=(_text(entry, "RvslInd") or "").lower() == "true",
        transactions=transactions,
    )


DIRECT_DEBIT_FAMILIES = ("IDDT", "RDDT")  # ISO bank transaction codes: issued / received direct debits


def _direct_debit_code(element: Element) -> bool:
    return _text(element, "BkTxCd/Domn/Fmly/Cd") in DIRECT_DEBIT_FAMILIES


def _charges(tx: Element, where: str) -> tuple[Decimal, bool]:
    """The bank's charges on a transaction (v04 on: records; v02: amounts) and whether its amount holds them."""
    records = tx.findall("Chrgs/Rcrd") or tx.findall("Chrgs")
    total, included = Decimal(0), False
    for record in records:
        amount = record.find("Amt")
        if amount is not None:
            total += _amount(amount, where)[0]
            included = included or (_text(record, "ChrgInclInd") or "").lower() == "true"
    return total, included


def _transaction(tx: Element, where: str, debit_code: bool = False) -> Transaction:
    amount_element = tx.find("AmtDtls/TxAmt/Amt")
    if amount_element is None:
        amount_element = tx.find("Amt")
    amount = _amount(amount_element, where)[0] if amount_element is not None else None
    lines = [(e.text or "").strip() for e in tx.findall("RmtInf/Ustrd")]
    lines += [(e.text or "").strip() for e in tx.findall("RmtInf/Strd/CdtrRefInf/Ref")]
    name = _text(tx, "RltdPties/Dbtr/Pty/Nm") or _text(tx, "RltdPties/Dbtr/Nm")
    mandate = provided(_text(tx, "Refs/MndtId")) or provided(_text(tx, "RltdRmtInf/MndtId"))
    fee, included = _charges(tx, where)
    return Transaction(
        amount=amount,
        end_to_end_id=provided(_text(tx, "Refs/EndToEndId")),
        debtor_name=name,
        debtor_iban=_iban(tx.find("RltdPties/DbtrAcct/Id/IBAN")),
        remittance=" ".join(line for line in lines if line),
        return_reason=_text(tx, "RtrInf/Rsn/Cd") or _text(tx, "RtrInf/Rsn/Prtry"),
        mandate_id=mandate,
        direct_debit=debit_code or _direct_debit_code(tx) or mandate is not None,
        fee=fee,
        fee_included=included,
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
    match = DAY.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return date.fromisoformat(match.group(1))
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
