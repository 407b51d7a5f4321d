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
