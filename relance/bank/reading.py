"""A statement file of any format we read, told by its content: one place for the CLI and the watch."""

from relance.bank.camt import parse_camt
from relance.bank.cfonb import LINE, parse_cfonb
from relance.bank.csv_export import CsvMapping, parse_csv
from relance.bank.entries import Statement, StatementRefused

FORMATS = ("camt053", "camt054", "cfonb120", "csv")


def detect(data: bytes) -> str:
    """camt053, camt054 or cfonb120 from the first bytes; a CSV export needs its mapping, so is never guessed."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "camt054" if b"camt.054" in head[:2000] else "camt053"
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if len(first) >= LINE and len(first) % LINE == 0 and first.startswith(b"01"):
        return "cfonb120"
    raise StatementRefused(f"cannot tell the format of the file; give --format {'|'.join(FORMATS)}")


def read_statement(
    data: bytes, *, format_: str | None = None, mapping: CsvMapping | None = None, account: str | None = None
) -> Statement:
    if format_ is not None and format_ not in FORMATS:
        raise StatementRefused(f"--format {format_!r}: expected one of {', '.join(FORMATS)}")
    if (format_ == "csv") != (mapping is not None):
        raise StatementRefused("a CSV export needs --format csv and --mapping FILE (the YAML that names its columns)")
    if mapping is not None:
        return parse_csv(data, mapping)
    kind = format_ or detect(data)
    if kind == "cfonb120":
        return parse_cfonb(data.decode("latin-1"))
    statement = parse_camt(data, account=account)
    if not statement.format.startswith(kind.replace("camt", "camt.")):
        raise StatementRefused(f"the file is {statement.format}, not {kind}")
    return statement


def unknown_accounts(statement: Statement, ours: frozenset[str]) -> list[str]:
    """The accounts the statement reports that are not ours (none when we keep no list)."""
    if not ours:
        return []
    # a CFONB statement names a French account by bank, branch and number: the IBAN's BBAN less its key
    known = ours | {iban[4:25] for iban in ours if iban.startswith("FR") and len(iban) == 27}
    reported = {e.account for e in statement.entries} | {statement.account}
    return sorted(a for a in reported if "".join(a.split()).upper() not in known)
