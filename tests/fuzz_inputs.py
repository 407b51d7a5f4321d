"""Hypothesis strategies for malformed input, one family per door of the system (tests/workflows/test_fuzz.py).

Each strategy starts from a valid payload and breaks it in one of the ways other systems do: a field
poisoned (amounts as floats or exponents, dates in year 1 or 9999, control characters, 100 KB strings,
wrong JSON types), a required field dropped, an unknown field added, the payload replaced by a non-object,
or sent with no argument or several.
"""

import json
from typing import Any

from hypothesis import strategies as st

from starter.importer import REQUIRED_CSV

JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
ANY_JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
CONTROL = st.sampled_from(["\x00", "\x07", "\x1b[31m", "\u202e", "\u200b", "\ufeff", "\x85", "\u2028", "\r\n"])
BAD_STRING = st.one_of(
    st.tuples(st.text(max_size=6), CONTROL, st.text(max_size=6)).map("".join),
    st.integers(min_value=1001, max_value=120_000).map(lambda n: "x" * n),
    st.just(""),
    st.just("   "),
)
BAD_TEXT = st.one_of(
    BAD_STRING,
    st.integers(),
    st.lists(st.text(max_size=3), max_size=2),
    st.booleans(),
)
BAD_AMOUNT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.sampled_from(
        [
            "1e400",
            "1E+400",
            "1e20",
            "1e15",
            "1_000",
            "١٠٠",
            "１００",
            "-5",
            "0",
            "0.00",
            "NaN",
            "Infinity",
            "-Infinity",
            "",
            " ",
            "12.34567",
            "1,5",
            "10000000000.00",
            "99999999999",
            "+5",
            ".5",
            "5.",
            "0x10",
            "1 000",
        ]
    ),
    st.text(max_size=8).filter(lambda t: not t.strip().replace(".", "", 1).isdigit()),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
BAD_DAY = st.one_of(
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "9998-06-01",
            "1989-12-31",
            "2101-01-01",
            "2026-02-30",
            "2026-13-01",
            "26-04-20",
            "2026-4-20",
            "",
            "tomorrow",
            "2026-04-20T10:00:00",
            "20260420",
            "2026/04/20",
        ]
    ),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.text(max_size=10),
)

AMOUNT_FIELDS = {"amount", "credited_amount", "collected_amount"}
DAY_FIELDS = {
    "paid_on",
    "promised_on",
    "until",
    "delivered_on",
    "returned_on",
    "issued_on",
    "served_on",
    "filed_on",
    "reported_on",
    "due_on",
    "issue_date",
    "due_date",
}


def poison_for(field: str) -> st.SearchStrategy[Any]:
    if field in AMOUNT_FIELDS:
        return BAD_AMOUNT
    if field in DAY_FIELDS:
        return BAD_DAY
    return st.one_of(BAD_TEXT, ANY_JSON)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a payload a mutation can hit: object keys and list items, at any depth."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(child, (*prefix, index)))
    return found


def _set(payload: Any, path: tuple[Any, ...], value: Any, *, drop: bool = False) -> Any:
    copy = json.loads(json.dumps(payload))
    target = copy
    for part in path[:-1]:
        target = target[part]
    if drop:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy


@st.composite
def broken_payload(draw: st.DrawFn, valid: dict[str, Any]) -> list[Any]:
    """The arguments of one call: a valid payload broken in one way (or none, for the caller to check)."""
    how = draw(st.sampled_from(["poison", "poison", "poison", "drop", "extra", "not_object", "no_args", "more_args"]))
    paths = _paths(valid)
    if how == "poison" and paths:
        path = draw(st.sampled_from(paths))
        return [_set(valid, path, draw(poison_for(str(path[-1]))))]
    if how == "drop" and paths:
        return [_set(valid, draw(st.sampled_from(paths)), None, drop=True)]
    if how == "extra":
        key = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in valid))
        return [{**valid, key: draw(ANY_JSON)}]
    if how == "not_object":
        return [
            draw(
                st.one_of(
                    st.lists(ANY_JSON, max_size=3), st.text(max_size=20), st.integers(), st.floats(), st.booleans()
                )
            )
        ]
    if how == "more_args":
        return [valid, *draw(st.lists(ANY_JSON, min_size=1, max_size=3))]
    return []


DAY = "2026-04-20"
CASE_ACTIONS: dict[str, dict[str, Any]] = {
    "payment_received": {"amount": "10.00", "paid_on": DAY, "reference": "R-1"},
    "dispute_opened": {"reason": "colis abîmé"},
    "dispute_resolved": {"outcome": "partially_accepted", "credited_amount": "10.00"},
    "promise_to_pay": {"promised_on": "2026-05-01", "amount": "10.00"},
    "payment_plan_agreed": {
        "installments": [{"due_on": "2026-05-01", "amount": "625.00"}, {"due_on": "2026-06-01", "amount": "625.00"}]
    },
    "pause": {"reason": "négociation", "until": "2026-05-01"},
    "resume": {},
    "write_off": {"reason": "liquidation"},
    "contact_updated": {
        "email": "ap@client.example",
        "phone": "+33 1 02 03 04 05",
        "address": {"line1": "1 rue X", "postal_code": "75001", "city": "Paris", "country": "FR"},
    },
    "registered_letter_delivered": {"tracking_number": "1A234", "delivered_on": DAY},
    "mail_returned": {"reason": "NPAI", "returned_on": DAY},
    "reapply_policy": {"policy": "b2b-standard"},
    "email_bounced": {"reason": "mailbox unknown"},
    "email_event": {"kind": "delivered", "step_id": "reminder-1", "at": "2026-04-20T07:00:00+00:00", "event_id": "E1"},
    "sms_event": {"kind": "delivered", "step_id": "reminder-1", "at": "2026-04-20T07:00:00+00:00", "event_id": "SM1"},
    "reply_received": {
        "reply_id": "<r1@acme.example>",
        "sender": "compta@acme.example",
        "received_at": "2026-04-20T07:00:00+00:00",
    },
    "court_order_issued": {"issued_on": DAY, "reference": "IP-1"},
    "order_served": {"served_on": DAY},
    "opposition_filed": {"filed_on": DAY},
    "judgment_paid": {"amount": "10.00", "paid_on": DAY, "reference": "J-1"},
    "agency_update": {"status": "plan agreed", "collected_amount": "10.00", "reported_on": DAY, "final": False},
    "settlement_offered": {"amount": "1000.00", "pay_by": "2026-05-01", "waive": ["principal"], "reason": "geste"},
    "payment_reversed": {"reference": "R-1", "amount": "10.00", "reason": "AM04", "reversed_on": DAY, "fee": "5"},
    "einvoice_status": {
        "status_id": "PA-1:1",
        "code": "210",
        "at": "2026-04-20T07:00:00+00:00",
        "reason_code": "TX_TVA_ERR",
        "note": "taux de TVA erroné",
    },
    "credit_note_applied": {"credit_note": "AV-1", "amount": "10.00", "issued_on": DAY},
}
# What the account tells a case, and what a case tells its account: internal, but anyone can send them.
CASE_INTERNAL_SIGNALS: dict[str, dict[str, Any]] = {
    "customer_hold": {"kind": "hold", "reason": "litige commercial", "until": "2026-05-01"},
    "message_outcome": {"step_id": "reminder-1", "result": {"status": "sent", "detail": "sent"}},
}
ACCOUNT_ACTIONS: dict[str, dict[str, Any]] = {
    "hold": {"reason": "litige commercial", "until": "2026-05-01"},
    "release": {},
    "exclude": {"reason": "grand compte"},
    "include": {},
    "unallocated_payment_received": {"amount": "10.00", "paid_on": DAY, "reference": "VIR-1"},
}
ACCOUNT_INTERNAL_SIGNALS: dict[str, dict[str, Any]] = {
    "case_opened": {"case_id": "invoice-Z-1", "invoice_id": "Z-1", "due_date": DAY, "currency": "EUR"},
    "case_closed": {"case_id": "invoice-Z-1", "outcome": "paid"},
}


@st.composite
def broken_call(draw: st.DrawFn, actions: dict[str, dict[str, Any]]) -> tuple[str, list[Any]]:
    name = draw(st.sampled_from(sorted(actions)))
    return name, draw(broken_payload(actions[name]))


VALID_CASE: dict[str, Any] = {
    "invoice_id": "FZ-1",
    "customer": {
        "id": "C-FUZZ",
        "name": "ACME SAS",
        "kind": "business",
        "email": "compta@acme.example",
        "language": "fr",
        "segment": "smb",
        "phone": "+33 1 40 00 00 01",
        "address": {
            "line1": "1 rue de la Paix",
            "line2": "Bât. B",
            "postal_code": "75002",
            "city": "Paris",
            "country": "FR",
        },
    },
    "amount": "1250.00",
    "currency": "EUR",
    "issue_date": "2026-03-31",
    "due_date": "2026-04-30",
    "metadata": {"po": "77"},
    "penalty_rate": "12",
}


def broken_case() -> st.SearchStrategy[list[Any]]:
    return broken_payload(VALID_CASE)


# ---- files --------------------------------------------------------------------------------------------

CSV_COLUMNS = [*REQUIRED_CSV, "currency", "metadata"]
CSV_GOOD = [
    "FZ-{n}",
    "C-1",
    "Dupont SA",
    "business",
    "compta@dupont.example",
    "1 rue X",
    "75001",
    "Paris",
    "FR",
    "1250,50",
    "2026-04-01",
    "2026-04-30",
    "EUR",
    "",
]
CELL_NOISE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ['"', '""', '"a;b"', ";", "\n", "\r", "\x00", "\u202e", "1e400", "9999-12-31", "{", '{"a":', "XXX", "ZZ"]
    ),
    BAD_STRING,
)


@st.composite
def csv_file(draw: st.DrawFn) -> tuple[str, int]:
    """A CSV export with some rows broken; also how many data rows it was written with."""
    rows = []
    count = draw(st.integers(min_value=1, max_value=6))
    for n in range(count):
        cells = [c.format(n=n) for c in CSV_GOOD]
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            cells[draw(st.integers(min_value=0, max_value=len(cells) - 1))] = draw(CELL_NOISE)
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            cells = cells[: draw(st.integers(min_value=0, max_value=len(cells)))]
        rows.append(";".join(cells))
    return ";".join(CSV_COLUMNS) + "\n" + "\n".join(rows) + "\n", count


@st.composite
def json_file(draw: st.DrawFn) -> tuple[str, int]:
    """A JSON export with some invoices broken; also how many invoices it lists."""
    items = []
    for n in range(draw(st.integers(min_value=1, max_value=5))):
        valid = {**VALID_CASE, "invoice_id": f"FZ-{n}"}
        args = draw(st.one_of(st.just([valid]), broken_payload(valid)))
        items.append(args[0] if args else {})
    text = json.dumps(items, indent=draw(st.sampled_from([None, 1, 2])), ensure_ascii=draw(st.booleans()))
    return text, len(items)


VALID_POLICY = """name: fuzz
version: 1
selection: {priority: 1, customer_kinds: [business]}
calendar:
  timezone: Europe/Paris
  holidays: {country: FR}
  sending_window: {start: "09:00", end: "18:00"}
steps:
  - {id: reminder-1, offset_days: 1, action: email, template: reminder_1}
  - {id: reminder-2, offset_days: 10, action: email, template: reminder_2}
promise: {grace_days: 2, on_broken: reminder-2}
end: {close_after_days: 30}
"""
YAML_NOISE = st.sampled_from(
    [
        "&a [1]",
        "*a",
        "<<: *a",
        "!!python/object:os.system",
        "{",
        "}",
        "[",
        "- ",
        ": ",
        "\t",
        "\x00",
        "'",
        '"',
        "%YAML 9",
        "---",
        "...",
        "? ",
        "|",
        ">",
        "name: again",
        "steps: 3",
        "version: -1",
        "offset_days: 1e9",
        "\ufeff",
        "é",
        "\u202e",
    ]
)


@st.composite
def policy_bytes(draw: st.DrawFn) -> bytes:
    """A policy file broken in its text, its structure or its encoding."""
    how = draw(st.sampled_from(["insert", "insert", "nest", "duplicate", "encode", "values", "random"]))
    text = VALID_POLICY
    if how == "insert":
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            at = draw(st.integers(min_value=0, max_value=len(text)))
            text = text[:at] + draw(st.one_of(YAML_NOISE, st.text(max_size=8))) + text[at:]
    elif how == "nest":
        depth = draw(st.integers(min_value=10, max_value=6000))
        text += "extra: " + "[" * depth + "]" * depth + "\n"
    elif how == "duplicate":
        line = draw(st.sampled_from(text.splitlines()[:3]))
        text = text + line + "\n"
    elif how == "values":
        text = text.replace("1", draw(st.sampled_from(["-1", "x", "1e400", "[]", "{}", "null", "9" * 30])), 1)
    elif how == "random":
        return draw(st.binary(max_size=200))
    encoding = (
        draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16", "utf-8-sig"])) if how == "encode" else "utf-8"
    )
    return text.encode(encoding, errors="replace")
