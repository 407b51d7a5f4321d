"""CFONB 120: the French fixed-width account statement ("relevé de compte 120 caractères").

Every line is 120 characters: 01 old balance, 04 movement, 05 movement complement (more remittance text,
the debtor's name), 07 new balance. Positions (1-based) follow the CFONB 120 layout; ⚠ they were taken
from practitioner descriptions and should be checked against the CFONB specification before production:

  1-2 record code · 3-7 bank code · 8-11 internal operation code · 12-16 branch · 17-19 currency ·
  20 decimals · 22-32 account number · 33-34 interbank operation code · 35-40 booking date DDMMYY ·
  41-42 rejection reason · 43-48 value date DDMMYY · 49-79 label · 82-88 entry number · 91-104 amount
  (last character signed, overpunched: '{' 'A'…'I' positive, '}' 'J'…'R' negative) · 105-120 reference.
  Record 05: 46-48 qualifier of the complement · 49-118 complement text.
"""

from datetime import date, datetime
from decimal import Decimal

from relance.bank.entries import BankEntry, Statement, StatementRefused, Transaction, stable_reference

LINE = 120
POSITIVE = {"{": 0, **{chr(ord("A") + n): n + 1 for n in range(9)}}
NEGATIVE = {"}": 0, **{chr(ord("J") + n): n + 1 for n in range(9)}}
NAME_QUALIFIERS = ("NPY", "NBE")  # the payer's name (nom du payeur, nom du bénéficiaire)


def parse_cfonb(text: str) -> Statement:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise StatementRefused("the file is empty")
    movements: list[dict[str, object]] = []
    account = ""
    for number, line in enumerate(lines, 1):
        if len(line) != LINE:
            raise StatementRefused(f"line {number} is {len(line)} characters long; CFONB 120 lines are {LINE}")
        code = line[0:2]
        if code == "01":
            account = f"{line[2:7]}{line[11:16]}{line[21:32]}"
        elif code == "04":
            movements.append(_movement(line, number))
        elif code == "05":
            if not movements:
                raise StatementRefused(f"line {number}: a complement (05) before any movement (04)")
            qualifier, complement = line[45:48], line[48:118].strip()
            last = movements[-1]
            if qualifier in NAME_QUALIFIERS:
                last["name"] = complement
            elif complement:
                last["text"] = f"{last['text']} {complement}".strip()
        elif code != "07":
            raise StatementRefused(f"line {number}: record code {code!r} is not 01, 04, 05 or 07")
    if not account:
        raise StatementRefused("no old-balance record (01) names the account")
    entries = [_entry(m, account) for m in movements]
    return Statement("cfonb120", f"{account}:{lines[0][34:40]}", account, entries)


def _movement(line: str, number: int) -> dict[str, object]:
    amount = _signed(line[90:104], int(line[19]) if line[19].isdigit() else 2, number)
    return {
        "currency": line[16:19],
        "booking": _day(line[34:40], number),
        "value": _day(line[42:48], number),
        "reject": line[40:42].strip() or None,
        "text": line[48:79].strip(),
        "entry_number": line[81:88].strip(),
        "reference": line[104:120].strip(),
        "amount": amount,
        "name": None,
        "operation": line[32:34],
    }


def _entry(m: dict[str, object], account: str) -> BankEntry:
    amount = m["amount"]
    assert isinstance(amount, Decimal)
    text, name, reject = str(m["text"]), m["name"], m["reject"]
    reference = str(m["entry_number"]) or stable_reference(account, m["booking"], amount, text, m["reference"])
    return BankEntry(
        account=account,
        reference=f"{m['booking']}:{reference}",
        amount=abs(amount),
        currency=str(m["currency"]),
        credit=amount > 0,
        booked=True,  # a statement lists booked movements only
        booking_date=m["booking"],  # type: ignore[arg-type]
        value_date=m["value"],  # type: ignore[arg-type]
        transactions=[
            Transaction(
                amount=abs(amount),
                end_to_end_id=str(m["reference"]) or None,
                debtor_name=str(name) if name else None,
                remittance=text,
                return_reason=str(reject) if reject else None,
            )
        ],
    )


def _signed(field: str, decimals: int, number: int) -> Decimal:
    digits, last = field[:-1], field[-1]
    if not digits.isdigit() or (last not in POSITIVE and last not in NEGATIVE):
        raise StatementRefused(f"line {number}: amount {field!r} is not a CFONB signed amount")
    unit = POSITIVE.get(last, NEGATIVE.get(last))
    value = Decimal(f"{digits}{unit}").scaleb(-decimals)
    return value if last in POSITIVE else -value


def _day(text: str, number: int) -> date | None:
    if not text.strip():
        return None
    try:
        return datetime.strptime(text, "%d%m%y").date()
    except ValueError:
        raise StatementRefused(f"line {number}: {text!r} is not a date DDMMYY") from None
