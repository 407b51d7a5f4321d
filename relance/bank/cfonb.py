"""CFONB 120: the French fixed-width account statement ("relevé de compte 120 caractères").

Every record is 120 characters: 01 old balance (opens an account's section), 04 movement, 05 movement
complement (more remittance text, the payer's name, the mandate), 07 new balance. Files come with CRLF or
LF line ends, with blank lines between sections, or with no line ends at all (records back to back): all
three are read. A file may hold several accounts, one 01…07 section each; a movement belongs to its section.

Positions (1-based), from the CFONB "relevé de compte sur support informatique" layout:

  1-2 record code · 3-7 bank code · 8-11 internal operation code · 12-16 branch · 17-19 currency ·
  20 decimals · 22-32 account number · 33-34 interbank operation code · 35-40 booking date DDMMYY ·
  41-42 rejection reason · 43-48 value date DDMMYY · 49-79 label · 82-88 entry number · 91-104 amount
  (last character signed, overpunched: '{' 'A'…'I' positive, '}' 'J'…'R' negative) · 105-120 reference.
  Record 05: 46-48 qualifier of the complement · 49-118 complement text.

An entry's key cannot be its entry number: most banks fill it with zeros. It is a hash of everything the
bank says of the movement (account, dates, codes, amount, label, reference, complements), which every file
reporting the movement repeats; identical movements of one day are told apart by their rank.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from relance.bank.entries import BankEntry, Statement, StatementRefused, Transaction, distinct_keys, stable_reference

LINE = 120
POSITIVE = {"{": 0, **{chr(ord("A") + n): n + 1 for n in range(9)}}
NEGATIVE = {"}": 0, **{chr(ord("J") + n): n + 1 for n in range(9)}}
PAYER = "NPY"  # nom du payeur; NBE (nom du bénéficiaire) is the other party, on a credit ourselves
END_TO_END = "RCN"  # référence client: the payer's end-to-end reference
MANDATE = "RUM"  # référence unique du mandat
TEXT = ("LIB", "LCC", "RCN", "REF")  # complements that carry remittance text


@dataclass
class _Movement:
    account: str
    line: str
    number: int
    complements: list[tuple[str, str]] = field(default_factory=list)


def records(text: str) -> list[tuple[int, str]]:
    """(line number, record) of every non-blank record, whatever separates them."""
    result: list[tuple[int, str]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if not raw.strip():
            continue
        if (
            len(raw) != LINE
            and len(raw) % LINE == 0
            and all(raw[i : i + 2].isdigit() for i in range(0, len(raw), LINE))
        ):
            result += [(number, raw[i : i + LINE]) for i in range(0, len(raw), LINE)]  # records back to back
        elif len(raw) != LINE:
            raise StatementRefused(f"line {number} is {len(raw)} characters long; CFONB 120 lines are {LINE}")
        else:
            result.append((number, raw))
    return result


def parse_cfonb(text: str) -> Statement:
    found = records(text)
    if not found:
        raise StatementRefused("the file is empty")
    movements: list[_Movement] = []
    accounts: list[str] = []
    section: str | None = None
    for number, line in found:
        code = line[0:2]
        if code == "01":
            section = _account(line)
            accounts.append(section)
        elif code == "04":
            if section is None:
                raise StatementRefused(f"line {number}: a movement (04) before any old-balance record (01)")
            if line[21:32] != section[-11:]:
                raise StatementRefused(
                    f"line {number}: a movement of account {line[21:32].strip()!r} inside the section of "
                    f"account {section[-11:].strip()!r}"
                )
            movements.append(_Movement(section, line, number))
        elif code == "05":
            if not movements or movements[-1].account != section:
                raise StatementRefused(f"line {number}: a complement (05) before any movement (04)")
            movements[-1].complements.append((line[45:48], line[48:118].strip()))
        elif code == "07":
            section = None
        else:
            raise StatementRefused(f"line {number}: record code {code!r} is not 01, 04, 05 or 07")
    if not accounts:
        raise StatementRefused("no old-balance record (01) names the account")
    entries = distinct_keys([_entry(m) for m in movements])
    return Statement("cfonb120", f"{accounts[0]}:{found[0][1][34:40]}", accounts[0], entries)


def _account(line: str) -> str:
    return f"{line[2:7]}{line[11:16]}{line[21:32]}"


def _entry(m: _Movement) -> BankEntry:
    line, number = m.line, m.number
    decimals = int(line[19]) if line[19].isdigit() else 2
    amount = _signed(line[90:104], decimals, number)
    booking, value = _day(line[34:40], number), _day(line[42:48], number)
    label, reference, entry_number = line[48:79].strip(), line[104:120].strip(), line[81:88].strip()
    named = {q: text for q, text in reversed(m.complements)}  # the first complement of a qualifier counts
    texts = [label, *(text for q, text in m.complements if q in TEXT and text)]
    remittance = " ".join(dict.fromkeys(t for t in texts if t))  # a complement repeating the label adds nothing
    reject = line[40:42].strip() or None
    key = stable_reference(m.account, booking, value, line[7:11], line[32:34], reject, amount, label, reference,
                           entry_number, *(f"{q}{t}" for q, t in m.complements))  # fmt: skip
    legacy = f"{booking}:{entry_number or stable_reference(m.account, booking, amount, label, reference)}"
    numbered = entry_number.strip("0") != ""
    return BankEntry(
        account=m.account,
        reference=key,
        amount=abs(amount),
        currency=line[16:19],
        credit=amount > 0,
        booked=True,  # a statement lists booked movements only
        booking_date=booking,
        value_date=value,
        transactions=[
            Transaction(
                amount=abs(amount),
                end_to_end_id=named.get(END_TO_END) or reference or None,
                debtor_name=named.get(PAYER) or None,
                remittance=remittance,
                return_reason=reject,
                mandate_id=named.get(MANDATE) or None,
                direct_debit=MANDATE in named,
            )
        ],
        bank_reference=f"{booking}:{entry_number}" if numbered else None,
        aliases=(legacy,),
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
